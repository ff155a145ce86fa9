import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { allBlocks, instantiate, parseDir, parseFile, tfFilesUnder } from '@livehouse/cli/terraform';
import { describe, expect, it } from 'vitest';
import {
  everythingEncrypted,
  externalDnsScopedToSubZone,
  moduleVersionsPinned,
  noWorldOpenSecurityGroups,
  prodAccessOnlySreWrites,
  prodDatabasesProtected,
  subnetsAreSlash20,
  type TerraformPolicy,
  tf,
} from './terraform-policies.ts';

const repo = join(dirname(fileURLToPath(import.meta.url)), '../..');
const terraform = join(repo, 'deploy/terraform');
const fixture = (name: string) => join(repo, 'deploy/test/fixtures/terraform', name);
const envs = ['dev', 'prod'] as const;
/** The roots that call registry modules (global has two plain resources). */
const moduleRoots = [...envs.map((e) => `envs/${e}`), 'bootstrap'];

const run = async (policy: TerraformPolicy, dir: string) => policy(await instantiate(dir));

describe('every .tf file parses with HashiCorp’s HCL parser (@cdktf/hcl2json)', () => {
  it('when every .tf under deploy/terraform is parsed, then none fails', async () => {
    const files = await tfFilesUnder(terraform);
    expect(files.length).toBeGreaterThan(25);
    const failures: string[] = [];
    for (const file of files)
      await parseFile(file).catch((e: Error) => failures.push(`${relative(repo, file)}: ${e.message}`));
    expect(failures).toEqual([]);
  });

  it('when a file has an unclosed block, then the parser rejects it with the file and line', async () => {
    await expect(parseDir(fixture('invalid-hcl'))).rejects.toThrow(/main\.tf:1,\d+-\d+: Unclosed configuration block/);
  });

  it('when each root is evaluated, then every local module it calls is found and read', async () => {
    const prod = await instantiate(join(terraform, 'envs/prod'));
    expect(prod.children.map((c) => c.path)).toEqual(['module.environment']);
    expect(prod.children[0]?.children.map((c) => c.path).sort()).toEqual(
      ['cluster', 'data', 'dns', 'identities', 'network', 'storage'].map((m) => `module.environment.module.${m}`),
    );
    const registry = allBlocks(prod).filter((b) => b.kind === 'module' && !b.type.startsWith('.'));
    expect(registry.length).toBeGreaterThanOrEqual(15);
  });
});

describe('policies over the real roots', () => {
  for (const env of envs) {
    const dir = join(terraform, 'envs', env);

    it(`when ${env}'s subnets are read, then it has six private /20s`, async () => {
      const result = await run(subnetsAreSlash20, dir);
      expect(result).toEqual({ checked: 1, violations: [] });
    });

    it(`when ${env}'s ExternalDNS role is read, then it may change only its delegated sub-zone`, async () => {
      const result = await run(externalDnsScopedToSubZone, dir);
      expect(result).toEqual({ checked: 1, violations: [] });
    });

    it(`when ${env}'s security groups are read, then only the ALB's 443 is open to the internet`, async () => {
      const result = await run(noWorldOpenSecurityGroups, dir);
      expect(result.violations).toEqual([]);
      expect(result.checked).toBeGreaterThanOrEqual(3);
    });

    it(`when ${env}'s buckets, database and cache are read, then all are encrypted`, async () => {
      const result = await run(everythingEncrypted, dir);
      expect(result.violations).toEqual([]);
      expect(result.checked).toBe(5); // three buckets, one database, one cache
    });
  }

  for (const root of moduleRoots) {
    it(`when ${root}'s module calls are read, then every registry module is pinned to an exact version`, async () => {
      const result = await run(moduleVersionsPinned, join(terraform, root));
      expect(result.violations).toEqual([]);
      expect(result.checked).toBeGreaterThan(0);
    });
  }

  it('when the state bucket is read, then it is encrypted, versioned and private', async () => {
    const result = await run(everythingEncrypted, join(terraform, 'bootstrap'));
    expect(result).toEqual({ checked: 1, violations: [] });
  });

  it('when prod’s access entries are read, then only the SRE role can change anything', async () => {
    const result = await run(prodAccessOnlySreWrites, join(terraform, 'envs/prod'));
    expect(result).toEqual({ checked: 2, violations: [] });
  });

  it('when dev’s access entries are read, then developers may edit (and the prod policy says so)', async () => {
    const result = await run(prodAccessOnlySreWrites, join(terraform, 'envs/dev'));
    expect(result.violations).toEqual([
      'module.environment.module.cluster.module.eks: access entry developers has write access (arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy)',
    ]);
    const dev = await instantiate(join(terraform, 'envs/dev'));
    const eks = allBlocks(dev).find((b) => b.address === 'module.environment.module.cluster.module.eks');
    expect(JSON.stringify(eks?.attrs.access_entries)).toMatch(/"namespaces":\["livehouse-dev"\]/);
  });

  it('when prod’s database is read, then deletion protection is on and a final snapshot is taken', async () => {
    const result = await run(prodDatabasesProtected, join(terraform, 'envs/prod'));
    expect(result).toEqual({ checked: 1, violations: [] });
  });

  it('when every root is read, then state is remote in S3 with S3-native locking (no DynamoDB)', async () => {
    for (const root of ['envs/dev', 'envs/prod', 'global']) {
      const { files } = await parseDir(join(terraform, root));
      const backends = files.flatMap(({ body }) =>
        ((body.terraform as { backend?: { s3?: { use_lockfile?: boolean; encrypt?: boolean }[] } }[]) ?? []).flatMap(
          (t) => t.backend?.s3 ?? [],
        ),
      );
      expect(backends, root).toEqual([expect.objectContaining({ use_lockfile: true, encrypt: true })]);
      expect(JSON.stringify(backends)).not.toMatch(/dynamodb/);
    }
  });

  it('when the image repository is read, then its tags are immutable and images are scanned on push', async () => {
    const global = await instantiate(join(terraform, 'global'));
    const ecr = allBlocks(global).find((b) => b.type === 'aws_ecr_repository');
    expect(ecr?.attrs.image_tag_mutability).toBe('IMMUTABLE');
    expect(ecr?.attrs.image_scanning_configuration).toEqual([{ scan_on_push: true }]);
    // The other environment's account (one cluster per account) may pull, never push.
    const pull = allBlocks(global).find((b) => b.address === 'data.aws_iam_policy_document.pull');
    const actions = ((pull?.attrs.statement ?? []) as { actions: string[] }[]).flatMap((st) => st.actions);
    expect(actions).toContain('ecr:BatchGetImage');
    expect(actions.filter((a) => /Put|Upload|Delete|\*/.test(a))).toEqual([]);
  });

  it('when the services’ roles are read, then thumbnail and ingest reach their own bucket only', async () => {
    const prod = await instantiate(join(terraform, 'envs/prod'));
    const resourcesOf = (name: string) => {
      const role = allBlocks(prod).find((b) => b.address === `module.environment.module.identities.module.${name}`);
      const statements = (role?.attrs.policy_statements ?? []) as { resources: string[] }[];
      return statements.flatMap((s) => s.resources);
    };
    expect(resourcesOf('thumbnail')).toEqual([
      `${tf('module.storage.thumbnails_bucket_arn')}/*`,
      tf('module.storage.thumbnails_bucket_arn'),
    ]);
    expect(resourcesOf('ingest')).toEqual([
      `${tf('module.storage.archives_bucket_arn')}/*`,
      tf('module.storage.archives_bucket_arn'),
    ]);
  });
  it('when the database URLs are read, then there is one per service that has a schema in the manifests', async () => {
    const data = await instantiate(join(terraform, 'modules/data'));
    const services = data.variables.database_services?.default;
    const withSchema = readdirSync(join(repo, 'deploy/k8s/base/services')).filter((s) =>
      readFileSync(join(repo, 'deploy/k8s/base/services', s, 'kustomization.yaml'), 'utf8').includes(
        'components/database',
      ),
    );
    expect([...((services as string[]) ?? [])].sort()).toEqual(withSchema.sort());
  });
});

describe('each policy rejects its broken fixture', () => {
  it('when private subnets are /24s, then the subnet policy names each and the count', async () => {
    const { violations } = await run(subnetsAreSlash20, fixture('subnet-slash-24'));
    expect(violations).toEqual([
      'module.network.module.vpc: 3 private subnets, expected 6',
      'module.network.module.vpc: private subnet 10.0.1.0/24 is not a /20',
      'module.network.module.vpc: private subnet 10.0.2.0/24 is not a /20',
      'module.network.module.vpc: private subnet 10.0.3.0/24 is not a /20',
    ]);
  });

  it('when ExternalDNS may write every zone, then the policy rejects the wildcard ARN', async () => {
    const { violations } = await run(externalDnsScopedToSubZone, fixture('external-dns-wildcard'));
    expect(violations).toEqual([
      'module.external_dns: "arn:aws:route53:::hostedzone/*" is not the ARN of a zone this module creates',
    ]);
  });

  it('when ExternalDNS may write the parent zone, then the policy rejects it', async () => {
    const { violations } = await run(externalDnsScopedToSubZone, fixture('external-dns-parent-zone'));
    expect(violations).toEqual([
      `module.external_dns: "${tf('data.aws_route53_zone.parent.arn')}" is not the ARN of a zone this module creates`,
    ]);
  });

  it('when the zone is not delegated or a statement widens Route 53 access, then the policy names each', async () => {
    const { violations } = await run(externalDnsScopedToSubZone, fixture('external-dns-widened'));
    expect(violations).toEqual([
      'module.external_dns: zone sub is not delegated from a parent by NS records',
      "module.external_dns: policy_statements would widen ExternalDNS's policy",
      "module.thumbnail: grants route53:* outside ExternalDNS's role",
    ]);
  });

  it('when prod developers may edit and join sre, then the access policy rejects both', async () => {
    const { violations } = await run(prodAccessOnlySreWrites, fixture('prod-developers-write'));
    expect(violations).toEqual([
      'module.cluster.module.eks: access entry developers has write access (arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy)',
      'module.cluster.module.eks: access entry developers joins the group sre, which is not read-only',
    ]);
  });

  it('when SSH, the ALB’s HTTP and Redis are open to the internet, then each is named (egress and the ingest NLB’s 1935 are not)', async () => {
    const { violations } = await run(noWorldOpenSecurityGroups, fixture('security-group-open'));
    expect(violations).toEqual([
      'aws_security_group.bastion.ingress[0]: open to the internet on port 22',
      'aws_vpc_security_group_ingress_rule.alb_http: open to the internet on port 80',
      'aws_vpc_security_group_ingress_rule.edge_rtmp_range: open to the internet on ports 1900-1999',
      'module.redis.security_group_rules.ingress_anywhere: open to the internet on its default port',
    ]);
  });

  it('when a bucket, a database and a cache are not encrypted, then each is named', async () => {
    const { violations } = await run(everythingEncrypted, fixture('unencrypted'));
    expect(violations).toEqual([
      'module.bucket: no server-side encryption by default',
      'module.bucket: block_public_policy must be true',
      'aws_s3_bucket.raw: no aws_s3_bucket_server_side_encryption_configuration',
      'module.postgres: storage_encrypted must be true',
      'module.redis: at_rest_encryption_enabled must be true',
      'module.redis: no auth_token',
    ]);
  });

  it('when prod’s database may be deleted without a snapshot, then the policy rejects it', async () => {
    const { violations } = await run(prodDatabasesProtected, fixture('prod-database-unprotected'));
    expect(violations).toEqual([
      'module.data.module.postgres: deletion_protection must be true',
      'module.data.module.postgres: skip_final_snapshot must be false',
    ]);
  });

  it('when modules use a range, no version or a branch, then each is named', async () => {
    const { violations } = await run(moduleVersionsPinned, fixture('unpinned'));
    expect(violations.sort()).toEqual([
      'module.eks: terraform-aws-modules/eks/aws must be pinned to an exact version, not null',
      'module.karpenter: git::https://github.com/terraform-aws-modules/terraform-aws-eks.git//modules/karpenter?ref=master must pin ?ref= to a release tag or a commit',
      'module.vpc: terraform-aws-modules/vpc/aws must be pinned to an exact version, not "~> 6.0"',
    ]);
  });
});
