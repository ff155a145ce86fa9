import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import {
  addonsComponent,
  hostsOf,
  type InfraValues,
  loadBalancerAttributes,
  overlayComponent,
  parseOutputs,
  readTemplates,
  writeInfraValues,
} from '@livehouse/cli/infra-values';
import { allBlocks, type Block, instantiate } from '@livehouse/cli/terraform';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type K8sObject, ofKind, render, repoRoot } from './manifests.ts';

const envs = ['dev', 'prod'] as const;
type Env = (typeof envs)[number];
const examplePath = (env: string) => join(repoRoot, 'deploy/terraform/envs', env, 'outputs.example.json');
const generatedDir = (env: string) => join(repoRoot, 'deploy/terraform/envs', env, 'k8s');

/** The repository's stand-ins (example outputs, base files' values): none may survive real outputs. */
const PLACEHOLDERS =
  /111122223333|example\.com|vpc-0123456789abcdef0|ap-northeast-1|certificate\/[0-2]{8}-|livehouse-alb-access-logs|\bCLUSTER\b|\bREGION\b/;

/** A real account's `terraform output -json` (none of the placeholders): the example with other values. */
const SAMPLE = { account: '444455556666', region: 'us-west-2', parent: 'acme.test' };
function realOutputs(env: string): string {
  const example = JSON.parse(readFileSync(examplePath(env), 'utf8')).livehouse.value as Record<string, unknown>;
  const swap = (v: unknown): unknown =>
    typeof v === 'string'
      ? v
          .replaceAll('111122223333', SAMPLE.account)
          .replaceAll('ap-northeast-1', SAMPLE.region)
          .replaceAll('livehouse.example.com', SAMPLE.parent)
          .replaceAll('vpc-0123456789abcdef0', 'vpc-0fedcba9876543210')
          .replaceAll(/certificate\/[0-9-]+/g, 'certificate/9a8b7c6d-0000-4000-8000-000000000000')
      : Array.isArray(v)
        ? v.map(swap)
        : v && typeof v === 'object'
          ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, swap(x)]))
          : v;
  return JSON.stringify({ livehouse: { value: swap(example) } });
}

const temps: string[] = [];
afterAll(() => {
  for (const t of temps) rmSync(t, { recursive: true, force: true });
});

/**
 * The repository's deploy/ tree in a temporary folder with the components generated from `json`, rendered the way
 * Argo CD renders each cluster: its namespace (overlays/<env>), its Argo CD (argocd/clusters/<env>) and its
 * cluster objects (k8s/clusters/<env>).
 */
function renderCluster(env: Env, json: string): { values: InfraValues; objects: K8sObject[] } {
  const root = mkdtempSync(join(tmpdir(), 'livehouse-cluster-'));
  temps.push(root);
  cpSync(join(repoRoot, 'deploy/k8s'), join(root, 'deploy/k8s'), { recursive: true });
  cpSync(join(repoRoot, 'deploy/argocd'), join(root, 'deploy/argocd'), { recursive: true });
  const values = parseOutputs(json);
  writeInfraValues(values, join(root, 'deploy/terraform/envs', env, 'k8s'), join(root, 'deploy/k8s'));
  const objects = [`deploy/k8s/overlays/${env}`, `deploy/argocd/clusters/${env}`, `deploy/k8s/clusters/${env}`].flatMap(
    (dir) => render(relative(repoRoot, join(root, dir))),
  );
  return { values, objects };
}

const strings = (v: unknown): string[] =>
  typeof v === 'string'
    ? [v]
    : Array.isArray(v)
      ? v.flatMap(strings)
      : v && typeof v === 'object'
        ? Object.values(v).flatMap(strings)
        : [];

/** A Terraform interpolation as hcl2json writes it: ref('var.x') is "$" + "{var.x}". */
const ref = (expression: string) => `$${'{'}${expression}}`;

/** The names Terraform's resources get in an environment, read from the .tf files (with the sample's account). */
async function terraformNames(env: Env) {
  const blocks = allBlocks(await instantiate(join(repoRoot, 'deploy/terraform/envs', env)));
  const at = (address: string): Block => {
    const b = blocks.find((x) => x.address === `module.environment.${address}`);
    if (!b) throw new Error(`no ${address} in envs/${env}`);
    return b;
  };
  const cluster = at('module.cluster.module.eks').attrs.name as string;
  const known: Record<string, string> = {
    [ref('data.aws_caller_identity.current.account_id')]: SAMPLE.account,
    [ref('module.cluster.cluster_name')]: cluster,
    [ref('var.account.parent_zone_name')]: SAMPLE.parent,
    [ref('var.account.region')]: SAMPLE.region,
  };
  const resolve = (v: unknown) => {
    let s = String(v);
    for (const [ref, value] of Object.entries(known)) s = s.replaceAll(ref, value);
    if (s.includes('${')) throw new Error(`envs/${env}: cannot resolve ${s}`);
    return s;
  };
  const karpenter = at('module.cluster.module.karpenter').attrs;
  const readers = at('module.identities.aws_iam_role.secrets_reader').attrs.for_each as Record<string, string>;
  return {
    cluster,
    roles: new Set([...Object.keys(readers).map(resolve), resolve(karpenter.node_iam_role_name)]),
    readers: Object.keys(readers).map(resolve),
    nodeRole: resolve(karpenter.node_iam_role_name),
    queue: resolve(karpenter.queue_name),
    buckets: new Set(
      ['alb_logs', 'thumbnails', 'archives'].map((b) => resolve(at(`module.storage.module.${b}`).attrs.bucket)),
    ),
    zone: resolve(at('module.dns.aws_route53_zone.sub').attrs.name),
  };
}

/** Every IAM role a manifest names (ARNs anywhere, and Karpenter's node role). */
function referencedRoles(objects: K8sObject[]): string[] {
  const arns = strings(objects).flatMap((s) => [...s.matchAll(/arn:aws:iam::\d{12}:role\/([\w+=,.@-]+)/g)]);
  const nodeRoles = ofKind(objects, 'EC2NodeClass').map((n) => n.spec.role as string);
  return [...arns.map((m) => m[1] ?? ''), ...nodeRoles];
}

/** A manifest's reference to a role Terraform does not make. */
const unknownRoles = (objects: K8sObject[], roles: Set<string>) =>
  referencedRoles(objects).filter((r) => !roles.has(r));

/** Whether CIDR `inner` lies inside CIDR `outer` (IPv4). */
function within(inner: string, outer: string): boolean {
  const parse = (c: string) => {
    const [ip = '', bits = '32'] = c.split('/');
    return { n: ip.split('.').reduce((a, o) => a * 256 + Number(o), 0), bits: Number(bits) };
  };
  const [i, o] = [parse(inner), parse(outer)];
  const size = 2 ** (32 - o.bits);
  return i.bits >= o.bits && Math.floor(i.n / size) === Math.floor(o.n / size);
}

describe('livehouse infra-values: terraform outputs → the components the manifests include', () => {
  for (const env of envs) {
    it(`when the ${env} example outputs are turned into components, then the committed ones are current`, () => {
      const values = parseOutputs(readFileSync(examplePath(env), 'utf8'));
      const templates = readTemplates(values, join(repoRoot, 'deploy/k8s'));
      expect(readFileSync(join(generatedDir(env), 'kustomization.yaml'), 'utf8')).toBe(
        overlayComponent(values, templates),
      );
      expect(readFileSync(join(generatedDir(env), 'addons/kustomization.yaml'), 'utf8')).toBe(addonsComponent(values));
    });
  }

  it('when outputs are missing or not JSON, then it names what is missing and writes nothing', () => {
    expect(() => parseOutputs('not json')).toThrow(/pipe `terraform output -json` in/);
    expect(() => parseOutputs(JSON.stringify({ region: { value: 'us-west-2' } }))).toThrow(/no output `livehouse`/);
    expect(() => parseOutputs(JSON.stringify({ livehouse: { value: { region: 'us-west-2' } } }))).toThrow(
      /missing outputs: environment, cluster_name, vpc_id/,
    );
  });
});

describe('one cluster per environment, every value from Terraform', () => {
  const rendered = {} as Record<Env, { values: InfraValues; objects: K8sObject[] }>;
  const names = {} as Record<Env, Awaited<ReturnType<typeof terraformNames>>>;
  beforeAll(async () => {
    for (const env of envs) {
      rendered[env] = renderCluster(env, realOutputs(env));
      names[env] = await terraformNames(env);
    }
  }, 120_000);

  for (const env of envs) {
    it(`when ${env}'s cluster is rendered with real outputs, then no placeholder is left anywhere`, () => {
      const left = strings(rendered[env].objects).filter((s) => PLACEHOLDERS.test(s));
      expect(left.map((s) => s.match(PLACEHOLDERS)?.[0])).toEqual([]);
    });

    it(`when ${env}'s cluster is rendered, then the names are those of Terraform's resources (from the .tf files)`, () => {
      const { objects, values } = rendered[env];
      const tf = names[env];
      expect(tf.cluster).toBe(`livehouse-${env}`);
      const app = (name: string) =>
        ofKind(objects, 'Application').find((a) => a.metadata.name === name)?.spec.source.helm.valuesObject;
      expect(app('aws-load-balancer-controller')).toMatchObject({ clusterName: tf.cluster, region: SAMPLE.region });
      expect(app('karpenter').settings).toEqual({ clusterName: tf.cluster, interruptionQueue: tf.queue });
      expect(app('external-dns')).toMatchObject({ domainFilters: [tf.zone], txtOwnerId: tf.cluster });
      expect(app('fluent-bit').env).toEqual([
        { name: 'AWS_REGION', value: SAMPLE.region },
        { name: 'LOG_GROUP_NAME', value: '/livehouse/eks/containers' },
      ]);
      const nodeClass = ofKind(objects, 'EC2NodeClass')[0];
      expect(nodeClass?.spec.role).toBe(tf.nodeRole);
      expect(strings([nodeClass?.spec.subnetSelectorTerms, nodeClass?.spec.securityGroupSelectorTerms])).toEqual([
        tf.cluster,
        tf.cluster,
      ]);
      // Hosts: inside this cluster's own sub-zone.
      const hosts = hostsOf(values);
      expect(values.zone_name).toBe(tf.zone);
      const ingress = (name: string) => ofKind(objects, 'Ingress').find((i) => i.metadata.name === name);
      for (const [name, host] of [
        ['bff', hosts.api],
        ['web', hosts.web],
        ['edge', hosts.media],
      ] as const) {
        const i = ingress(name);
        expect(i?.spec.rules[0].host, name).toBe(host);
        expect(i?.metadata.annotations?.['alb.ingress.kubernetes.io/certificate-arn'], name).toBe(
          values.certificate_arn,
        );
      }
      const rtmp = ofKind(objects, 'Service').find((s) => s.metadata.name === 'ingest-rtmp');
      expect(rtmp?.metadata.annotations?.['external-dns.alpha.kubernetes.io/hostname']).toBe(hosts.rtmp);
      // Buckets: the access logs and the services' storage are Terraform's buckets.
      const configs = ofKind(objects, 'ConfigMap').map((c) => Object.values(c.data ?? {}).join('\n'));
      const buckets = [
        ...configs.flatMap((c) => [...c.matchAll(/^\s+bucket: (\S+)$/gm)].map((m) => m[1])),
        ...strings(ofKind(objects, 'Ingress')).flatMap((s) =>
          [...s.matchAll(/access_logs\.s3\.bucket=([^,]+)/g)].map((m) => m[1]),
        ),
      ];
      expect(new Set(buckets)).toEqual(tf.buckets);
      expect(loadBalancerAttributes(values)).toContain(`access_logs.s3.prefix=${env}`);
      // The streamers' RTMP address is the NLB's name.
      expect(configs.join('\n')).toContain(`ingestUrl: rtmp://${hosts.rtmp}/live`);
    });

    it(`when ${env}'s manifests name IAM roles, then each is a role Terraform makes`, () => {
      const { objects } = rendered[env];
      const roles = referencedRoles(objects);
      expect(roles.length).toBeGreaterThanOrEqual(3); // two SecretStores' readers, Karpenter's node role
      expect(unknownRoles(objects, names[env].roles)).toEqual([]);
      // The namespace's, and the monitoring namespace's (an extra manifest of kube-prometheus-stack's chart).
      const extra = ofKind(objects, 'Application').flatMap(
        (a) => (a.spec.source?.helm?.valuesObject?.extraManifests ?? []) as K8sObject[],
      );
      const stores = ofKind([...objects, ...extra], 'SecretStore').map((s) => s.spec.provider.aws);
      expect(stores.map((s) => s.role.split('/').pop()).sort()).toEqual([...names[env].readers].sort());
      expect(new Set(stores.map((s) => s.region))).toEqual(new Set([SAMPLE.region]));
    });
  }

  it('when a manifest names the platform reader without its cluster, then the cross-check reports it', () => {
    // The name kube-prometheus-stack's SecretStore used to carry; Terraform's is <cluster>-platform-external-secrets.
    const broken = [
      {
        apiVersion: 'external-secrets.io/v1',
        kind: 'SecretStore',
        metadata: { name: 'aws-secrets-manager' },
        spec: { provider: { aws: { role: 'arn:aws:iam::444455556666:role/livehouse-platform-external-secrets' } } },
      },
    ] as K8sObject[];
    expect(unknownRoles(broken, names.prod.roles)).toEqual(['livehouse-platform-external-secrets']);
  });

  it('when the dev and prod clusters are rendered, then no name, zone or role is shared between them', () => {
    expect(names.dev.cluster).not.toBe(names.prod.cluster);
    expect(names.dev.zone).not.toBe(names.prod.zone);
    for (const role of names.dev.roles) expect(names.prod.roles.has(role)).toBe(false);
    for (const bucket of names.dev.buckets) expect(names.prod.buckets.has(bucket)).toBe(false);
  });

  it('when pods reach S3, then the NetworkPolicy’s range holds the subnets of Terraform’s S3 interface endpoint', async () => {
    const blocks = allBlocks(await instantiate(join(repoRoot, 'deploy/terraform/envs/prod')));
    const at = (a: string) => blocks.find((b) => b.address === `module.environment.module.network.module.${a}`);
    const s3 = ((at('vpc_endpoints')?.attrs.endpoints ?? {}) as Record<string, Record<string, unknown>>).s3;
    // An interface endpoint whose private DNS answers s3.<region>.amazonaws.com inside the VPC (a gateway endpoint
    // routes to S3's public addresses, which no NetworkPolicy of ours admits).
    expect(s3?.service_type ?? 'Interface').toBe('Interface');
    expect(s3?.private_dns_enabled).toBe(true);
    expect(s3?.subnet_ids).toBe(ref('module.vpc.intra_subnets'));
    const endpointSubnets = at('vpc')?.attrs.intra_subnets as string[];
    expect(endpointSubnets).toHaveLength(3);
    const policy = ofKind(rendered.prod.objects, 'NetworkPolicy').find((n) => n.metadata.name === 'allow-s3');
    const allowed = (
      (policy?.spec.egress ?? []) as { to: { ipBlock?: { cidr: string } }[]; ports: { port: number }[] }[]
    )
      .filter((e) => e.ports.some((p) => p.port === 443))
      .flatMap((e) => e.to.flatMap((t) => (t.ipBlock ? [t.ipBlock.cidr] : [])));
    for (const subnet of endpointSubnets)
      expect(
        allowed.some((cidr) => within(subnet, cidr)),
        `${subnet} in ${allowed}`,
      ).toBe(true);
  });

  it('when the manifests trust the ALB’s addresses, then the range is the VPC Terraform makes', async () => {
    const root = await instantiate(join(repoRoot, 'deploy/terraform/envs/prod'));
    const vpc = allBlocks(root).find((b) => b.address === 'module.environment.module.network.module.vpc');
    const { objects } = rendered.prod;
    const configs = ofKind(objects, 'ConfigMap').map((c) => Object.values(c.data ?? {}).join('\n'));
    const trusted = configs.flatMap((c) => [...c.matchAll(/trustProxy: \[(.+)\]/g)].map((m) => m[1]?.trim()));
    expect(trusted.length).toBeGreaterThanOrEqual(2); // bff, web
    expect(new Set(trusted)).toEqual(new Set([vpc?.attrs.cidr]));
  });
});

describe('the committed overlays', () => {
  it('when each overlay is rendered as committed, then every folder takes its values from its own environment', () => {
    for (const env of envs) {
      const objects = render(`deploy/k8s/overlays/${env}`);
      const ingress = ofKind(objects, 'Ingress');
      expect(ingress.map((i) => i.metadata.name).sort()).toEqual(['bff', 'edge', 'web']);
      const zone = env === 'dev' ? 'k8s-dev.livehouse.example.com' : 'k8s.livehouse.example.com';
      for (const i of ingress) expect(i.spec.rules[0].host.endsWith(`.${zone}`), i.metadata.name).toBe(true);
    }
  });
});
