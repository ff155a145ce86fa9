import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import {
  addonsComponent,
  type InfraValues,
  loadBalancerAttributes,
  overlayComponent,
  parseOutputs,
  writeInfraValues,
} from '@livehouse/cli/infra-values';
import { afterAll, describe, expect, it } from 'vitest';
import { parse as parseYamlDoc, stringify as stringifyYaml } from 'yaml';
import { type K8sObject, parseYaml, render, repoRoot } from './manifests.ts';

const envs = ['dev', 'prod'] as const;
const examplePath = (env: string) => join(repoRoot, 'deploy/terraform/envs', env, 'outputs.example.json');
const generatedDir = (env: string) => join(repoRoot, 'deploy/terraform/envs', env, 'k8s');

/** The repository's stand-ins for real values (README, "Deploy to Kubernetes"). */
const PLACEHOLDERS = /111122223333|example\.com|vpc-0123456789abcdef0|ap-northeast-1|certificate\/[0-2]{8}-/;

/** What a real account's `terraform output -json` gives (none of the placeholders). */
function realOutputs(env: string): string {
  const example = JSON.parse(readFileSync(examplePath(env), 'utf8')).livehouse.value as Record<string, unknown>;
  const swap = (v: unknown): unknown =>
    typeof v === 'string'
      ? v
          .replaceAll('111122223333', '444455556666')
          .replaceAll('ap-northeast-1', 'us-west-2')
          .replaceAll('livehouse.example.com', 'acme.test')
          .replaceAll('vpc-0123456789abcdef0', 'vpc-0fedcba9876543210')
          .replaceAll(/certificate\/[0-9-]+/g, 'certificate/9a8b7c6d-0000-4000-8000-000000000000')
      : v;
  return JSON.stringify({
    livehouse: { value: Object.fromEntries(Object.entries(example).map(([k, v]) => [k, swap(v)])) },
  });
}

const temps: string[] = [];
afterAll(() => {
  for (const t of temps) rmSync(t, { recursive: true, force: true });
});

/** Renders `resources` with `component` applied on top, the way an overlay folder including it renders. */
function renderWith(resources: string[], component: string): K8sObject[] {
  const dir = mkdtempSync(join(tmpdir(), 'livehouse-values-'));
  temps.push(dir);
  const rel = (p: string) => relative(dir, join(repoRoot, p));
  writeFileSync(
    join(dir, 'kustomization.yaml'),
    `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [${resources.map(rel).join(', ')}]\ncomponents: [${relative(dir, component)}]\n`,
  );
  const out = execFileSync(process.env.KUBECTL ?? 'kubectl', ['kustomize', dir], { encoding: 'utf8' });
  return parseYaml(out);
}

/** The environment component as it would be wired: its own image tag only (the repository comes from Terraform). */
interface EnvComponent {
  images?: { name: string; newName?: string; newTag?: string }[];
}

function envWithoutRepository(env: string): EnvComponent {
  const component: EnvComponent = parseYamlDoc(
    readFileSync(join(repoRoot, 'deploy/k8s/overlays', env, 'env/kustomization.yaml'), 'utf8'),
  );
  for (const image of component.images ?? []) delete image.newName;
  return component;
}

const envTag = (env: string) => envWithoutRepository(env).images?.[0]?.newTag;

/**
 * An overlay folder as it would be wired: the base service, then `../env` (without newName), then the generated
 * component, and the folder's own patches without host, certificate or log bucket (only its IngressGroup).
 */
function renderWired(env: string, service: string, generated: string): K8sObject[] {
  const root = mkdtempSync(join(tmpdir(), 'livehouse-wired-'));
  temps.push(root);
  mkdirSync(join(root, 'env'));
  mkdirSync(join(root, service));
  writeFileSync(join(root, 'env/kustomization.yaml'), stringifyYaml(envWithoutRepository(env)));
  const folder = join(root, service);
  writeFileSync(
    join(folder, 'kustomization.yaml'),
    stringifyYaml({
      apiVersion: 'kustomize.config.k8s.io/v1beta1',
      kind: 'Kustomization',
      resources: [relative(folder, join(repoRoot, 'deploy/k8s/base/services', service))],
      components: ['../env', relative(folder, generated)],
      patches: [
        {
          target: { kind: 'Ingress', name: 'bff' },
          patch: stringifyYaml([
            {
              op: 'replace',
              path: '/metadata/annotations/alb.ingress.kubernetes.io~1group.name',
              value: `livehouse-${env}`,
            },
          ]),
        },
      ],
    }),
  );
  return parseYaml(execFileSync(process.env.KUBECTL ?? 'kubectl', ['kustomize', folder], { encoding: 'utf8' }));
}

function generate(json: string): { values: InfraValues; dir: string } {
  const values = parseOutputs(json);
  const dir = mkdtempSync(join(tmpdir(), 'livehouse-generated-'));
  temps.push(dir);
  writeInfraValues(values, dir);
  return { values, dir };
}

const strings = (v: unknown): string[] =>
  typeof v === 'string'
    ? [v]
    : Array.isArray(v)
      ? v.flatMap(strings)
      : v && typeof v === 'object'
        ? Object.values(v).flatMap(strings)
        : [];

describe('livehouse infra-values: terraform outputs → the components the manifests include', () => {
  for (const env of envs) {
    it(`when the ${env} example outputs are turned into components, then the committed ones are current`, () => {
      const values = parseOutputs(readFileSync(examplePath(env), 'utf8'));
      expect(readFileSync(join(generatedDir(env), 'kustomization.yaml'), 'utf8')).toBe(overlayComponent(values));
      expect(readFileSync(join(generatedDir(env), 'addons/kustomization.yaml'), 'utf8')).toBe(addonsComponent(values));
    });

    it(`when ${env}'s BFF folder includes the component after env, then image and Ingress carry no placeholder`, () => {
      const { values, dir } = generate(realOutputs(env));
      const objects = renderWired(env, 'bff', dir);
      const ingress = objects.find((o) => o.kind === 'Ingress');
      const deployment = objects.find((o) => o.kind === 'Deployment');
      const annotations = ingress?.metadata.annotations ?? {};
      expect(annotations['alb.ingress.kubernetes.io/certificate-arn']).toBe(values.certificate_arn);
      expect(annotations['external-dns.alpha.kubernetes.io/hostname']).toBe(values.api_host);
      expect(annotations['alb.ingress.kubernetes.io/security-groups']).toBe(values.alb_security_group_id);
      expect(annotations['alb.ingress.kubernetes.io/load-balancer-attributes']).toBe(loadBalancerAttributes(values));
      expect(ingress?.spec.rules[0].host).toBe(values.api_host);
      expect(ingress?.spec.tls[0].hosts).toEqual([values.api_host]);
      // The repository from Terraform, the tag from the environment (CI's newTag).
      const tag = envTag(env);
      const images = deployment?.spec.template.spec.containers.map((c: { image: string }) => c.image);
      expect(images).toEqual([`444455556666.dkr.ecr.us-west-2.amazonaws.com/livehouse:${tag}`]);
      const left = strings([ingress?.metadata.annotations, ingress?.spec, images]).filter((s) => PLACEHOLDERS.test(s));
      expect(left).toEqual([]);
    });

    it(`when ${env}'s namespace is rendered with real outputs, then its SecretStore assumes the env's reader role`, () => {
      const { values, dir } = generate(realOutputs(env));
      const store = renderWith([`deploy/k8s/overlays/${env}/platform`], dir).find((o) => o.kind === 'SecretStore');
      expect(store?.spec.provider.aws).toMatchObject({
        role: `arn:aws:iam::444455556666:role/livehouse-${env}-external-secrets`,
        region: 'us-west-2',
        prefix: `livehouse/${env}/`,
      });
      expect(values.secrets_reader_role_arn).toBe(store?.spec.provider.aws.role);
    });

    it(`when ${env}'s load-balancer attributes are generated, then only the log bucket differs from the overlay's`, () => {
      const { values } = generate(realOutputs(env));
      const overlay = render(`deploy/k8s/overlays/${env}/bff`).find((o) => o.kind === 'Ingress');
      const current = overlay?.metadata.annotations?.['alb.ingress.kubernetes.io/load-balancer-attributes'] as string;
      expect(current.replace(/access_logs\.s3\.bucket=[^,]+/, `access_logs.s3.bucket=${values.alb_logs_bucket}`)).toBe(
        loadBalancerAttributes(values),
      );
    });
  }

  it('when the add-ons and node class are rendered with real outputs, then cluster, region, VPC and queue are set', () => {
    const { values, dir } = generate(realOutputs('prod'));
    const objects = renderWith(['deploy/argocd/apps', 'deploy/k8s/cluster'], join(dir, 'addons'));
    const app = (name: string) =>
      objects.find((o) => o.kind === 'Application' && o.metadata.name === name)?.spec.source.helm.valuesObject;
    expect(app('aws-load-balancer-controller')).toMatchObject({
      clusterName: 'livehouse-prod',
      region: 'us-west-2',
      vpcId: values.vpc_id,
    });
    expect(app('external-dns')).toMatchObject({ domainFilters: ['k8s.acme.test'], txtOwnerId: 'livehouse-prod' });
    expect(app('external-dns').env[0]).toEqual({ name: 'AWS_DEFAULT_REGION', value: 'us-west-2' });
    expect(app('karpenter').settings).toEqual({
      clusterName: 'livehouse-prod',
      interruptionQueue: 'livehouse-prod-karpenter',
    });
    const nodeClass = objects.find((o) => o.kind === 'EC2NodeClass');
    expect(nodeClass?.spec.role).toBe('KarpenterNodeRole-livehouse-prod');
    expect(nodeClass?.spec.subnetSelectorTerms).toEqual([{ tags: { 'karpenter.sh/discovery': 'livehouse-prod' } }]);
    expect(nodeClass?.spec.securityGroupSelectorTerms).toEqual([
      { tags: { 'karpenter.sh/discovery': 'livehouse-prod' } },
    ]);
  });

  it('when outputs are missing or not JSON, then it names what is missing and writes nothing', () => {
    expect(() => parseOutputs('not json')).toThrow(/pipe `terraform output -json` in/);
    expect(() => parseOutputs(JSON.stringify({ livehouse: { value: { region: 'us-west-2' } } }))).toThrow(
      /missing outputs: environment, cluster_name, vpc_id/,
    );
  });
});
