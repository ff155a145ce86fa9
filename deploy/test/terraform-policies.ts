import { allBlocks, type Block, type HclValue, type Instance, registryModule } from '@livehouse/cli/terraform';

/**
 * Policies over the evaluated module tree of a Terraform root (deploy/terraform/envs/*). Each returns what it
 * checked and the violations it found, one line each naming the block's address; `checked` lets a test prove a
 * policy saw something (a check over nothing cannot fail). The tests run each on the real roots and on a broken
 * fixture under deploy/test/fixtures/terraform that it must reject.
 */
export interface Result {
  checked: number;
  violations: string[];
}
export type TerraformPolicy = (root: Instance) => Result;

type Obj = { [key: string]: HclValue };
const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const modulesOf = (root: Instance, source: string) =>
  allBlocks(root).filter((b) => b.kind === 'module' && b.type === source);
const resourcesOf = (root: Instance, type: string) =>
  allBlocks(root).filter((b) => b.kind === 'resource' && b.type === type);
/** An unevaluated expression (a reference to something only known at apply time). */
const isExpression = (v: unknown) => typeof v === 'string' && v.includes('$' + '{');
/** A Terraform interpolation as hcl2json writes it: tf('var.x') is the string "$" + "{var.x}". */
export const tf = (expression: string) => `\${${expression}}`;

const WORLD = new Set(['0.0.0.0/0', '::/0']);

// ---- subnets -----------------------------------------------------------------------------------------------------

/** Six private /20 subnets per VPC (4091 usable addresses each), inside the VPC's CIDR. */
export const subnetsAreSlash20: TerraformPolicy = (root) => {
  const violations: string[] = [];
  const vpcs = modulesOf(root, 'terraform-aws-modules/vpc/aws');
  for (const vpc of vpcs) {
    const subnets = vpc.attrs.private_subnets;
    if (!Array.isArray(subnets) || subnets.some((s) => typeof s !== 'string' || isExpression(s))) {
      violations.push(`${vpc.address}: private_subnets must be literal CIDRs (so they can be checked and planned)`);
      continue;
    }
    if (subnets.length !== 6) violations.push(`${vpc.address}: ${subnets.length} private subnets, expected 6`);
    for (const cidr of subnets as string[])
      if (!cidr.endsWith('/20')) violations.push(`${vpc.address}: private subnet ${cidr} is not a /20`);
  }
  for (const subnet of resourcesOf(root, 'aws_subnet'))
    violations.push(`${subnet.address}: subnets come from terraform-aws-modules/vpc, not aws_subnet`);
  return { checked: vpcs.length, violations };
};

// ---- ExternalDNS -------------------------------------------------------------------------------------------------

const POD_IDENTITY = 'terraform-aws-modules/eks-pod-identity/aws';
/** Arguments that would add statements to the ExternalDNS role beside the module's own zone-scoped policy. */
const EXTRA_POLICY_ARGS = [
  'policy_statements',
  'source_policy_documents',
  'override_policy_documents',
  'additional_policy_arns',
];
const ROUTE53_WRITE = /route53:(\*|Change|Delete|Create)/i;

function strings(value: HclValue, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(value);
  else if (Array.isArray(value)) for (const v of value) strings(v, out);
  else if (isObject(value)) for (const v of Object.values(value)) strings(v, out);
  return out;
}

/**
 * ExternalDNS's role may change records in its environment's delegated sub-zone and nowhere else: the pod-identity
 * module's ExternalDNS policy (route53:ChangeResourceRecordSets on `external_dns_hosted_zone_arns`, List* on *)
 * with exactly that zone's ARN, no extra statements, and no other policy anywhere that writes Route 53.
 */
export const externalDnsScopedToSubZone: TerraformPolicy = (root) => {
  const violations: string[] = [];
  const blocks = allBlocks(root);
  const roles = modulesOf(root, POD_IDENTITY).filter((b) => b.attrs.attach_external_dns_policy === true);
  for (const role of roles) {
    const arns = role.attrs.external_dns_hosted_zone_arns;
    if (!Array.isArray(arns) || arns.length === 0) {
      violations.push(`${role.address}: external_dns_hosted_zone_arns must name the sub-zone's ARN`);
      continue;
    }
    for (const arn of arns) {
      const zone =
        typeof arn === 'string' ? /^\$\{aws_route53_zone\.([A-Za-z0-9_-]+)\.arn\}$/.exec(arn)?.[1] : undefined;
      const zoneBlock = blocks.find(
        (b) => b.kind === 'resource' && b.type === 'aws_route53_zone' && b.name === zone && b.dir === role.dir,
      );
      if (!zone || !zoneBlock) {
        violations.push(`${role.address}: ${JSON.stringify(arn)} is not the ARN of a zone this module creates`);
        continue;
      }
      // A sub-zone: its name servers are published as NS records in another (the parent) zone.
      const delegated = blocks.some(
        (b) =>
          b.type === 'aws_route53_record' &&
          b.dir === role.dir &&
          b.attrs.type === 'NS' &&
          b.attrs.records === `\${aws_route53_zone.${zone}.name_servers}` &&
          b.attrs.zone_id !== `\${aws_route53_zone.${zone}.zone_id}`,
      );
      if (!delegated) violations.push(`${role.address}: zone ${zone} is not delegated from a parent by NS records`);
    }
    for (const arg of EXTRA_POLICY_ARGS)
      if (role.attrs[arg] !== undefined && role.attrs[arg] !== null)
        violations.push(`${role.address}: ${arg} would widen ExternalDNS's policy`);
    if (role.attrs.attach_custom_policy === true)
      violations.push(`${role.address}: attach_custom_policy would widen ExternalDNS's policy`);
  }
  // Nothing else may write Route 53 (the DNS module's own records are Terraform's, not a role's).
  for (const b of blocks) {
    if (roles.includes(b)) continue;
    const writes = strings(b.attrs).filter((s) => ROUTE53_WRITE.test(s));
    if (writes.length > 0) violations.push(`${b.address}: grants ${writes.join(', ')} outside ExternalDNS's role`);
  }
  return { checked: roles.length, violations };
};

// ---- access entries ----------------------------------------------------------------------------------------------

const READ_ONLY_ACCESS_POLICIES = new Set([
  'arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy',
  'arn:aws:eks::aws:cluster-access-policy/AmazonEKSAdminViewPolicy',
]);
/** Kubernetes groups the prod overlay binds to read-only roles (deploy/k8s/overlays/prod/platform/rbac.yaml). */
const READ_ONLY_GROUPS = new Set(['developers']);
/** The SRE role, as the roots pass it: `var.sre_role_arn`, or a field of an object variable (`var.account.sre_role_arn`). */
const SRE_PRINCIPAL = /^\$\{var\.(?:[a-z_]+\.)?sre_role_arn\}$/;

/**
 * Prod: the SRE role is the only principal that can change anything. Every other access entry has read-only EKS
 * access policies and read-only Kubernetes groups, and whoever runs terraform apply gets no admin of its own.
 */
export const prodAccessOnlySreWrites: TerraformPolicy = (root) => {
  const violations: string[] = [];
  let checked = 0;
  for (const eks of modulesOf(root, 'terraform-aws-modules/eks/aws')) {
    if (eks.attrs.enable_cluster_creator_admin_permissions !== false)
      violations.push(`${eks.address}: enable_cluster_creator_admin_permissions must be false`);
    const entries = eks.attrs.access_entries;
    if (!isObject(entries)) {
      violations.push(`${eks.address}: access_entries must be a literal map`);
      continue;
    }
    let sre = 0;
    for (const [key, entry] of Object.entries(entries)) {
      checked += 1;
      if (!isObject(entry)) continue;
      if (typeof entry.principal_arn === 'string' && SRE_PRINCIPAL.test(entry.principal_arn)) {
        sre += 1;
        continue;
      }
      const policies = isObject(entry.policy_associations) ? Object.values(entry.policy_associations) : [];
      for (const p of policies) {
        const arn = isObject(p) ? p.policy_arn : undefined;
        if (typeof arn !== 'string' || !READ_ONLY_ACCESS_POLICIES.has(arn))
          violations.push(`${eks.address}: access entry ${key} has write access (${String(arn)})`);
      }
      const groups = Array.isArray(entry.kubernetes_groups) ? entry.kubernetes_groups : [];
      for (const g of groups)
        if (typeof g !== 'string' || !READ_ONLY_GROUPS.has(g))
          violations.push(`${eks.address}: access entry ${key} joins the group ${String(g)}, which is not read-only`);
    }
    if (sre === 0) violations.push(`${eks.address}: no access entry for the SRE role (var.sre_role_arn)`);
  }
  for (const b of [
    ...resourcesOf(root, 'aws_eks_access_entry'),
    ...resourcesOf(root, 'aws_eks_access_policy_association'),
  ])
    violations.push(`${b.address}: access entries go through the EKS module's access_entries, where they are checked`);
  return { checked, violations };
};

// ---- security groups ---------------------------------------------------------------------------------------------

/** The only ingress open to the internet: the ALB's HTTPS, and the ingest NLB's RTMP (issue 10). */
const PUBLIC_INGRESS = [
  { port: 443, address: /alb/i, what: "the public ALB's HTTPS" },
  { port: 1935, address: /ingest|rtmp/i, what: "the ingest NLB's RTMP" },
];
const CIDR_KEYS = ['cidr_blocks', 'ipv6_cidr_blocks', 'cidr_ipv4', 'cidr_ipv6'];

interface Rule {
  where: string;
  rule: Obj;
}

/** Every rule-like object in a block: anything with a CIDR key, not under an `egress` key, not of type egress. */
function ingressRules(value: HclValue, where: string, out: Rule[] = []): Rule[] {
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) ingressRules(v, `${where}[${i}]`, out);
  } else if (isObject(value)) {
    if (CIDR_KEYS.some((k) => k in value) && value.type !== 'egress') out.push({ where, rule: value });
    for (const [k, v] of Object.entries(value)) if (!/egress/i.test(k)) ingressRules(v, `${where}.${k}`, out);
  }
  return out;
}

const opensToWorld = (rule: Obj) =>
  CIDR_KEYS.some((k) => {
    const v = rule[k];
    return Array.isArray(v)
      ? v.some((c) => typeof c === 'string' && WORLD.has(c))
      : typeof v === 'string' && WORLD.has(v);
  });

/** No security group admits 0.0.0.0/0 (or ::/0), except the ALB's 443 and the ingest NLB's 1935. */
export const noWorldOpenSecurityGroups: TerraformPolicy = (root) => {
  const violations: string[] = [];
  let checked = 0;
  for (const b of allBlocks(root)) {
    if (b.kind === 'resource' && /egress/.test(b.type)) continue;
    if (b.kind === 'data') continue;
    const attrs = b.kind === 'resource' && b.type === 'aws_security_group_rule' ? { rule: b.attrs } : b.attrs;
    for (const { where, rule } of ingressRules(attrs, b.address)) {
      checked += 1;
      if (!opensToWorld(rule)) continue;
      const from = rule.from_port === undefined ? undefined : Number(rule.from_port);
      const to = rule.to_port === undefined ? from : Number(rule.to_port);
      const allowed = PUBLIC_INGRESS.find((p) => from === p.port && to === p.port && p.address.test(b.address));
      const ports = from === undefined ? 'its default port' : from === to ? `port ${from}` : `ports ${from}-${to}`;
      if (!allowed) violations.push(`${where}: open to the internet on ${ports}`);
    }
  }
  return { checked, violations };
};

// ---- encryption --------------------------------------------------------------------------------------------------

const SSE = new Set(['AES256', 'aws:kms', 'aws:kms:dsse']);

/** Every bucket, database and cache is encrypted; buckets also block public access. */
export const everythingEncrypted: TerraformPolicy = (root) => {
  const violations: string[] = [];
  let checked = 0;
  for (const bucket of modulesOf(root, 'terraform-aws-modules/s3-bucket/aws')) {
    checked += 1;
    const sse = bucket.attrs.server_side_encryption_configuration;
    const rule = isObject(sse) && isObject(sse.rule) ? sse.rule : undefined;
    const byDefault =
      rule && isObject(rule.apply_server_side_encryption_by_default)
        ? rule.apply_server_side_encryption_by_default
        : undefined;
    const algorithm = byDefault?.sse_algorithm;
    if (typeof algorithm !== 'string' || !SSE.has(algorithm))
      violations.push(`${bucket.address}: no server-side encryption by default`);
    for (const flag of ['block_public_acls', 'block_public_policy', 'ignore_public_acls', 'restrict_public_buckets'])
      if (bucket.attrs[flag] !== true) violations.push(`${bucket.address}: ${flag} must be true`);
  }
  for (const bucket of resourcesOf(root, 'aws_s3_bucket')) {
    checked += 1;
    const ref = new RegExp(`^\\$\\{aws_s3_bucket\\.${bucket.name}\\.(id|bucket)\\}$`);
    const encrypted = resourcesOf(root, 'aws_s3_bucket_server_side_encryption_configuration').some(
      (e) => e.dir === bucket.dir && typeof e.attrs.bucket === 'string' && ref.test(e.attrs.bucket),
    );
    if (!encrypted) violations.push(`${bucket.address}: no aws_s3_bucket_server_side_encryption_configuration`);
  }
  for (const db of [
    ...modulesOf(root, 'terraform-aws-modules/rds/aws'),
    ...resourcesOf(root, 'aws_db_instance'),
    ...resourcesOf(root, 'aws_rds_cluster'),
  ]) {
    checked += 1;
    if (db.attrs.storage_encrypted !== true) violations.push(`${db.address}: storage_encrypted must be true`);
  }
  for (const cache of [
    ...modulesOf(root, 'terraform-aws-modules/elasticache/aws'),
    ...resourcesOf(root, 'aws_elasticache_replication_group'),
  ]) {
    checked += 1;
    for (const flag of ['transit_encryption_enabled', 'at_rest_encryption_enabled'])
      if (cache.attrs[flag] !== true) violations.push(`${cache.address}: ${flag} must be true`);
    const token = cache.attrs.auth_token;
    if (typeof token !== 'string' || token === '') violations.push(`${cache.address}: no auth_token`);
  }
  for (const cluster of resourcesOf(root, 'aws_elasticache_cluster'))
    violations.push(`${cluster.address}: a single-node aws_elasticache_cluster cannot encrypt in transit with auth`);
  return { checked, violations };
};

// ---- prod databases ----------------------------------------------------------------------------------------------

/** Prod: every database refuses deletion and leaves a final snapshot when it is deleted anyway. */
export const prodDatabasesProtected: TerraformPolicy = (root) => {
  const violations: string[] = [];
  const dbs: Block[] = [
    ...modulesOf(root, 'terraform-aws-modules/rds/aws'),
    ...resourcesOf(root, 'aws_db_instance'),
    ...resourcesOf(root, 'aws_rds_cluster'),
  ];
  for (const db of dbs) {
    if (db.attrs.deletion_protection !== true) violations.push(`${db.address}: deletion_protection must be true`);
    if (db.attrs.skip_final_snapshot !== false) violations.push(`${db.address}: skip_final_snapshot must be false`);
  }
  return { checked: dbs.length, violations };
};

// ---- module versions ---------------------------------------------------------------------------------------------

const EXACT_VERSION = /^\d+\.\d+\.\d+$/;
const REGISTRY_SOURCE = /^[a-z0-9-]+\/[a-z0-9-]+\/[a-z0-9]+(\/\/.+)?$/i;

/** Every registry module is pinned to an exact version; git sources to a tag or commit. */
export const moduleVersionsPinned: TerraformPolicy = (root) => {
  const violations: string[] = [];
  const modules = allBlocks(root).filter((b) => b.kind === 'module');
  for (const m of modules) {
    const source = m.type;
    if (source.startsWith('./') || source.startsWith('../')) continue;
    if (REGISTRY_SOURCE.test(source)) {
      const version = m.attrs.version;
      if (typeof version !== 'string' || !EXACT_VERSION.test(version))
        violations.push(
          `${m.address}: ${registryModule(source)} must be pinned to an exact version, not ${JSON.stringify(version ?? null)}`,
        );
    } else if (/^(git::|github\.com\/)/.test(source)) {
      if (!/\?ref=(v?\d+\.\d+\.\d+|[0-9a-f]{40})$/.test(source))
        violations.push(`${m.address}: ${source} must pin ?ref= to a release tag or a commit`);
    } else violations.push(`${m.address}: unsupported module source ${source}`);
  }
  return { checked: modules.length, violations };
};

/** Every policy, by the name the tests and the report use. */
export const terraformPolicies = {
  subnetsAreSlash20,
  externalDnsScopedToSubZone,
  prodAccessOnlySreWrites,
  noWorldOpenSecurityGroups,
  everythingEncrypted,
  prodDatabasesProtected,
  moduleVersionsPinned,
};
