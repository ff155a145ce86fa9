import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { parseOutputs } from '../src/infra-values.ts';
import { allBlocks, instantiate, privateSubnetsOf } from '../src/terraform.ts';

const temps: string[] = [];
afterAll(() => {
  for (const t of temps) rmSync(t, { recursive: true, force: true });
});

/** A throwaway tree of .tf files: { 'main.tf': '…', 'modules/x/main.tf': '…' }. */
function tree(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'livehouse-tf-'));
  temps.push(dir);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

describe('the evaluator', () => {
  it('when a value passes through variables, locals and a module call, then the leaf module sees it', async () => {
    const dir = tree({
      'main.tf': `
        locals {
          common = { encrypted = true }
          zone   = "k8s.\${var.parent}"
        }
        variable "parent" {
          default = "example.org"
        }
        module "child" {
          source    = "./modules/child"
          encrypted = local.common.encrypted
          zone      = local.zone
          size      = 20
        }`,
      'modules/child/main.tf': `
        variable "encrypted" {}
        variable "zone" {}
        variable "size" {}
        variable "retention" {
          default = 7
        }
        module "leaf" {
          source    = "terraform-aws-modules/s3-bucket/aws"
          version   = "5.15.4"
          encrypted = var.encrypted
          name      = "\${var.zone}-logs"
          cidr      = "10.0.0.0/\${var.size}"
          days      = var.retention
          arn       = aws_s3_bucket.x.arn
          missing   = var.nowhere
        }`,
    });
    const leaf = allBlocks(await instantiate(dir)).find((b) => b.address === 'module.child.module.leaf');
    expect(leaf?.attrs).toMatchObject({
      encrypted: true,
      name: 'k8s.example.org-logs',
      cidr: '10.0.0.0/20',
      days: 7,
      // Anything but a plain variable or local stays as Terraform wrote it.
      arn: `\${aws_s3_bucket.x.arn}`,
      missing: `\${var.nowhere}`,
    });
  });

  it('when a root passes an unresolved variable, then the module does not read it as a variable of its own', async () => {
    const dir = tree({
      'main.tf': `
        variable "zone" {}
        module "child" {
          source = "./modules/child"
          name   = var.zone
        }`,
      'modules/child/main.tf': `
        variable "name" {}
        variable "zone" {
          default = "the child's own default"
        }
        resource "aws_route53_zone" "this" {
          name = var.name
        }`,
    });
    const zone = allBlocks(await instantiate(dir)).find((b) => b.address === 'module.child.aws_route53_zone.this');
    expect(zone?.attrs.name).toBe(`\${var.zone}`);
  });

  it('when any list of subnets is written in a root, then plan-ips reads exactly that list back', async () => {
    const cidr = fc
      .tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 16, max: 28 }))
      .map(([a, b, bits]) => `10.${a}.${b}.0/${bits}`);
    await fc.assert(
      fc.asyncProperty(fc.array(cidr, { minLength: 1, maxLength: 8 }), async (cidrs) => {
        const dir = tree({
          'main.tf': `module "vpc" {
            source          = "terraform-aws-modules/vpc/aws"
            version         = "6.6.0"
            private_subnets = ${JSON.stringify(cidrs)}
          }`,
        });
        expect((await privateSubnetsOf(dir)).cidrs).toEqual(cidrs);
      }),
      { numRuns: 25 },
    );
  });

  it('when the subnets are not literal, then plan-ips says so instead of guessing', async () => {
    const dir = tree({
      'main.tf': `module "vpc" {
        source          = "terraform-aws-modules/vpc/aws"
        version         = "6.6.0"
        private_subnets = [for i in range(6) : cidrsubnet("10.0.0.0/16", 4, i)]
      }`,
    });
    await expect(privateSubnetsOf(dir)).rejects.toThrow(/private_subnets is not a list of literal CIDRs/);
  });
});

describe('terraform outputs', () => {
  const complete = {
    environment: 'dev',
    region: 'us-west-2',
    cluster_name: 'livehouse-dev',
    vpc_id: 'vpc-1',
    vpc_cidr: '10.0.0.0/16',
    image_repository: 'r',
    zone_name: 'z',
    api_host: 'h',
    certificate_arn: 'c',
    alb_security_group_id: 'sg',
    alb_logs_bucket: 'b',
    thumbnails_bucket: 't',
    archives_bucket: 'a',
    karpenter_node_role_name: 'n',
    karpenter_queue_name: 'q',
    secrets_reader_role_arn: 'r',
    platform_secrets_reader_role_arn: 'p',
    log_group_name: 'l',
  };

  const asOutputs = (values: Record<string, unknown>) =>
    JSON.stringify({ livehouse: { value: values, sensitive: false } });

  it('when every output is there, then the values are read; when any is missing or empty, it is named', () => {
    expect(parseOutputs(asOutputs(complete))).toEqual(complete);
    fc.assert(
      fc.property(
        fc.subarray(Object.keys(complete), { minLength: 1 }),
        fc.constantFrom(undefined, '', 42, null),
        (dropped, replacement) => {
          const values: Record<string, unknown> = { ...complete };
          for (const k of dropped) {
            if (replacement === undefined) delete values[k];
            else values[k] = replacement;
          }
          expect(() => parseOutputs(asOutputs(values))).toThrow(new RegExp(`missing outputs: ${dropped.join(', ')} `));
        },
      ),
    );
  });
});
