import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseDocument, stringify } from 'yaml';

/**
 * `livehouse infra-values`: turns `terraform output -json` of an environment root (deploy/terraform/envs/<env>)
 * into two Kustomize components, so that the manifests carry no hand-copied account ids, ARNs, names or hosts:
 *   <out>/kustomization.yaml         listed by every folder of deploy/k8s/overlays/<env> after ../env: the ECR
 *                                    image; the Ingresses' and the RTMP load balancer's hosts, certificate,
 *                                    security group and access-log bucket; the SecretStore's role and region; the
 *                                    config files that name a bucket, a host or the VPC (a patch replaces the
 *                                    file the folder generates, which is read as the template)
 *   <out>/addons/kustomization.yaml  for the cluster's Argo CD (deploy/argocd/clusters/<env>) and its cluster objects
 *                                    (deploy/k8s/clusters/<env>): cluster name, region, VPC, interruption queue,
 *                                    node role, ExternalDNS's zone, Fluent Bit's log group, the platform's reader
 * One cluster per environment: every value here belongs to exactly one cluster.
 */

/** The outputs of an environment root that the manifests need (deploy/terraform/modules/environment/outputs.tf). */
export interface InfraValues {
  environment: string;
  region: string;
  cluster_name: string;
  vpc_id: string;
  vpc_cidr: string;
  image_repository: string;
  zone_name: string;
  api_host: string;
  certificate_arn: string;
  alb_security_group_id: string;
  alb_logs_bucket: string;
  thumbnails_bucket: string;
  archives_bucket: string;
  karpenter_node_role_name: string;
  karpenter_queue_name: string;
  secrets_reader_role_arn: string;
  platform_secrets_reader_role_arn: string;
  log_group_name: string;
}

const REQUIRED: (keyof InfraValues)[] = [
  'environment',
  'region',
  'cluster_name',
  'vpc_id',
  'vpc_cidr',
  'image_repository',
  'zone_name',
  'api_host',
  'certificate_arn',
  'alb_security_group_id',
  'alb_logs_bucket',
  'thumbnails_bucket',
  'archives_bucket',
  'karpenter_node_role_name',
  'karpenter_queue_name',
  'secrets_reader_role_arn',
  'platform_secrets_reader_role_arn',
  'log_group_name',
];

/** Reads `terraform output -json` of a root: `{"livehouse": {"value": {…every output of modules/environment…}}}`. */
export function parseOutputs(json: string): InfraValues {
  let outputs: unknown;
  try {
    outputs = JSON.parse(json);
  } catch {
    throw new Error('the outputs are not JSON: pipe `terraform output -json` in');
  }
  // The roots pass their environment module on as one output, `livehouse` (deploy/terraform/envs/*/main.tf).
  const root = (outputs as { livehouse?: { value?: unknown } } | null)?.livehouse?.value;
  if (typeof root !== 'object' || root === null)
    throw new Error('no output `livehouse`: pipe `terraform output -json` of deploy/terraform/envs/<env> in');
  const values: Partial<InfraValues> = {};
  const missing: string[] = [];
  for (const key of REQUIRED) {
    const value = (root as Record<string, unknown>)[key];
    if (typeof value !== 'string' || value === '') missing.push(key);
    else values[key] = value;
  }
  if (missing.length > 0)
    throw new Error(`missing outputs: ${missing.join(', ')} (run it on deploy/terraform/envs/<env> after apply)`);
  return values as InfraValues;
}

/** Literal blocks and no folding: the patches stay readable and byte-stable. */
const YAML = { lineWidth: 0, blockQuote: 'literal' } as const;

type Op = { op: 'add' | 'replace'; path: string; value: unknown };
const key = (k: string) => k.replaceAll('~', '~0').replaceAll('/', '~1');
const annotation = (name: string, value: string): Op => ({
  op: 'add',
  path: `/metadata/annotations/${key(name)}`,
  value,
});
const patch = (kind: string, name: string, ops: Op[]) => ({
  target: { kind, name },
  patch: stringify(ops, YAML).trimEnd(),
});

/** The hosts of an environment's sub-zone: the BFF's API, the web, the edge's HLS and the ingest NLB's RTMP. */
export const hostsOf = (v: InfraValues) => ({
  api: v.api_host,
  web: `www.${v.zone_name}`,
  media: `media.${v.zone_name}`,
  rtmp: `rtmp.${v.zone_name}`,
});

/**
 * The ALB's attributes (one load balancer per cluster: the IngressGroup's members that set them must agree). Only
 * the bucket and prefix come from Terraform; the rest is the platform's choice, the same in every environment.
 */
export const loadBalancerAttributes = (v: InfraValues) =>
  [
    'idle_timeout.timeout_seconds=3600',
    'access_logs.s3.enabled=true',
    `access_logs.s3.bucket=${v.alb_logs_bucket}`,
    `access_logs.s3.prefix=${v.environment}`,
    'routing.http.drop_invalid_header_fields.enabled=true',
  ].join(',');

const HEADER = (v: InfraValues, what: string) =>
  `# Generated by \`livehouse infra-values\` from \`terraform output -json\` of deploy/terraform/envs/${v.environment}:\n` +
  `# ${what}. Do not edit; re-run it after terraform apply (README, "Create the infrastructure").\n`;

const ingress = (v: InfraValues, name: string, host: string, attributes: boolean) =>
  patch('Ingress', name, [
    annotation('alb.ingress.kubernetes.io/certificate-arn', v.certificate_arn),
    annotation('alb.ingress.kubernetes.io/security-groups', v.alb_security_group_id),
    annotation('alb.ingress.kubernetes.io/manage-backend-security-group-rules', 'true'),
    ...(attributes
      ? [annotation('alb.ingress.kubernetes.io/load-balancer-attributes', loadBalancerAttributes(v))]
      : []),
    annotation('external-dns.alpha.kubernetes.io/hostname', host),
    { op: 'replace', path: '/spec/tls/0/hosts/0', value: host },
    { op: 'replace', path: '/spec/rules/0/host', value: host },
  ]);

/** A config file's fields that Terraform decides, by path in the file. */
type ConfigFields = [path: string[], value: unknown][];

const s3 = (v: InfraValues, bucket: string) => ({
  kind: 's3',
  bucket,
  endpoint: `https://s3.${v.region}.amazonaws.com`,
  region: v.region,
  // Virtual-hosted style through the S3 endpoint's private DNS (the gateway endpoint, deploy/terraform network).
  forcePathStyle: false,
});

/**
 * The services whose config file names something Terraform made, and what: their buckets (and the region's S3
 * endpoint), the sub-zone's hosts, and the VPC range the ALB's addresses come from (trustProxy).
 */
export function configFields(v: InfraValues): Record<string, ConfigFields> {
  const hosts = hostsOf(v);
  return {
    bff: [[['http', 'trustProxy'], [v.vpc_cidr]]],
    web: [
      [['http', 'trustProxy'], [v.vpc_cidr]],
      [['web', 'mediaOrigins'], [`https://${hosts.media}`]],
      [['web', 'ingestUrl'], `rtmp://${hosts.rtmp}/live`],
    ],
    edge: [[['edge', 'publicBaseUrl'], `https://${hosts.media}`]],
    payment: [
      [['payment', 'successUrl'], `https://${hosts.web}/wallet?checkout={CHECKOUT_SESSION_ID}`],
      [['payment', 'cancelUrl'], `https://${hosts.web}/wallet`],
    ],
    thumbnail: [[['thumbnail', 'storage'], s3(v, v.thumbnails_bucket)]],
    ingest: [[['ingest', 'storage'], s3(v, v.archives_bucket)]],
  };
}

/** Where a folder's config file is: its own (the overlay replaces the base's), else the base service's. */
export function configTemplatePath(manifests: string, environment: string, service: string): string {
  const own = join(manifests, 'overlays', environment, service, 'application.yaml');
  return existsSync(own) ? own : join(manifests, 'base/services', service, 'application.yaml');
}

/** A config file with Terraform's fields set; comments and every other key stay as written. */
export function fillConfig(template: string, fields: ConfigFields): string {
  const doc = parseDocument(template);
  for (const [path, value] of fields) doc.setIn(path, doc.createNode(value, { flow: Array.isArray(value) }));
  return doc.toString({ lineWidth: 0 });
}

/** The overlay component; `templates` are the config files, by service, that it fills in. */
export function overlayComponent(v: InfraValues, templates: Record<string, string>): string {
  const hosts = hostsOf(v);
  const configs = Object.entries(configFields(v)).map(([service, fields]) => {
    const template = templates[service];
    if (template === undefined) throw new Error(`no config template for ${service}`);
    return patch('ConfigMap', `${service}-config`, [
      { op: 'replace', path: `/data/${key('application.yaml')}`, value: fillConfig(template, fields) },
    ]);
  });
  const component = {
    apiVersion: 'kustomize.config.k8s.io/v1alpha1',
    kind: 'Component',
    images: [{ name: 'livehouse', newName: v.image_repository }],
    // A patch whose target a folder lacks does nothing there: every folder lists the whole component.
    patches: [
      ingress(v, 'bff', hosts.api, true),
      ingress(v, 'web', hosts.web, true),
      ingress(v, 'edge', hosts.media, false),
      patch('Service', 'ingest-rtmp', [annotation('external-dns.alpha.kubernetes.io/hostname', hosts.rtmp)]),
      // The namespace's SecretStore (deploy/k8s/platform/secret-store.yaml): this environment's reader role.
      patch('SecretStore', 'aws-secrets-manager', [
        { op: 'replace', path: '/spec/provider/aws/role', value: v.secrets_reader_role_arn },
        { op: 'replace', path: '/spec/provider/aws/region', value: v.region },
      ]),
      ...configs,
    ],
  };
  return (
    HEADER(v, 'the overlay values (image, hosts, certificate, SecretStore, config files)') + stringify(component, YAML)
  );
}

const values = (path: string) => `/spec/source/helm/valuesObject/${path}`;

export function addonsComponent(v: InfraValues): string {
  const discovery = key('karpenter.sh/discovery');
  const component = {
    apiVersion: 'kustomize.config.k8s.io/v1alpha1',
    kind: 'Component',
    patches: [
      patch('Application', 'aws-load-balancer-controller', [
        { op: 'replace', path: values('clusterName'), value: v.cluster_name },
        { op: 'replace', path: values('region'), value: v.region },
        { op: 'replace', path: values('vpcId'), value: v.vpc_id },
      ]),
      patch('Application', 'external-dns', [
        { op: 'replace', path: values('env/0/value'), value: v.region },
        { op: 'replace', path: values('domainFilters'), value: [v.zone_name] },
        { op: 'replace', path: values('txtOwnerId'), value: v.cluster_name },
      ]),
      patch('Application', 'karpenter', [
        { op: 'replace', path: values('settings/clusterName'), value: v.cluster_name },
        { op: 'replace', path: values('settings/interruptionQueue'), value: v.karpenter_queue_name },
      ]),
      // Its [OUTPUT] reads both from the environment (${AWS_REGION}, ${LOG_GROUP_NAME}).
      patch('Application', 'fluent-bit', [
        {
          op: 'replace',
          path: values('env'),
          value: [
            { name: 'AWS_REGION', value: v.region },
            { name: 'LOG_GROUP_NAME', value: v.log_group_name },
          ],
        },
      ]),
      // The monitoring namespace's SecretStore (the on-call URL): the platform's reader role.
      patch('Application', 'kube-prometheus-stack', [
        {
          op: 'replace',
          path: values('extraManifests/0/spec/provider/aws/role'),
          value: v.platform_secrets_reader_role_arn,
        },
        { op: 'replace', path: values('extraManifests/0/spec/provider/aws/region'), value: v.region },
      ]),
      patch('EC2NodeClass', 'livehouse', [
        { op: 'replace', path: '/spec/role', value: v.karpenter_node_role_name },
        { op: 'replace', path: `/spec/subnetSelectorTerms/0/tags/${discovery}`, value: v.cluster_name },
        { op: 'replace', path: `/spec/securityGroupSelectorTerms/0/tags/${discovery}`, value: v.cluster_name },
      ]),
    ],
  };
  return HEADER(v, 'the cluster values (add-ons, Karpenter)') + stringify(component, YAML);
}

/** The config templates of an environment, read from the manifests (default deploy/k8s). */
export function readTemplates(v: InfraValues, manifests: string): Record<string, string> {
  return Object.fromEntries(
    Object.keys(configFields(v)).map((service) => [
      service,
      readFileSync(configTemplatePath(manifests, v.environment, service), 'utf8'),
    ]),
  );
}

/** Writes both components under `out`; returns the files written. */
export function writeInfraValues(v: InfraValues, out: string, manifests = 'deploy/k8s'): string[] {
  mkdirSync(join(out, 'addons'), { recursive: true });
  const files = [
    [join(out, 'kustomization.yaml'), overlayComponent(v, readTemplates(v, manifests))],
    [join(out, 'addons', 'kustomization.yaml'), addonsComponent(v)],
  ] as const;
  for (const [file, text] of files) writeFileSync(file, text);
  return files.map(([file]) => file);
}

const USAGE = `usage: terraform -chdir=deploy/terraform/envs/ENV output -json | livehouse infra-values [--outputs FILE] [--out DIR] [--manifests DIR]

  Writes the Kustomize components the manifests include (default DIR: deploy/terraform/envs/ENV/k8s), filling in
  the config files of deploy/k8s (--manifests) that name a bucket, a host or the VPC. Re-run it after changing one.`;

/** The command; returns the exit code. */
export function infraValuesCommand(argv: string[], out: (text: string) => void = console.log): number {
  const { values: opts } = parseArgs({
    args: argv,
    options: {
      outputs: { type: 'string', default: '-' },
      out: { type: 'string' },
      manifests: { type: 'string', default: 'deploy/k8s' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (opts.help) {
    out(USAGE);
    return 0;
  }
  const json = readFileSync(opts.outputs === '-' ? 0 : opts.outputs, 'utf8');
  const v = parseOutputs(json);
  const dir = opts.out ?? join('deploy/terraform/envs', v.environment, 'k8s');
  for (const file of writeInfraValues(v, dir, opts.manifests)) out(`wrote ${file}`);
  return 0;
}
