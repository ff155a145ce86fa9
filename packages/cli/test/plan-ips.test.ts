import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  addressesPerNode,
  defaultCni,
  INSTANCE_TYPES,
  maxPods,
  type PlanInput,
  parseSubnet,
  planIps,
  planIpsCommand,
  planIpsMain,
  workloadsOf,
} from '../src/plan-ips.ts';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const prodOverlay = join(repoRoot, 'deploy/k8s/overlays/prod');
const sixSlash20 = ['10.0.0.0/20', '10.0.16.0/20', '10.0.32.0/20', '10.0.48.0/20', '10.0.64.0/20', '10.0.80.0/20'];

/** The reference's first layout: three /24 subnets, twelve m5.xlarge nodes, about 600 pods. */
const exhausted: PlanInput = {
  subnets: ['10.0.1.0/24', '10.0.2.0/24', '10.0.3.0/24'],
  nodes: { 'm5.xlarge': 12 },
  pods: 600,
  daemonSetPods: 2,
  cni: defaultCni,
  reservedPerSubnet: 0,
  minFree: 26,
};

describe('subnets', () => {
  it('when a /20 is read, then 4091 addresses are usable (AWS reserves 5), and six of them give 24546', () => {
    expect(parseSubnet('10.0.0.0/20').usable).toBe(4091);
    expect(sixSlash20.map(parseSubnet).reduce((s, x) => s + x.usable, 0)).toBe(24546);
  });

  it('when any subnet size AWS allows is read, then usable = 2^(32-bits) - 5; other input is refused', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 16, max: 28 }),
        (bits) => parseSubnet(`10.0.0.0/${bits}`).usable === 2 ** (32 - bits) - 5,
      ),
    );
    for (const bad of ['10.0.0.0/29', '10.0.0.0/8', '10.0.0/20', '300.0.0.0/20', 'ten'])
      expect(() => parseSubnet(bad)).toThrow();
  });
});

describe('addresses per node', () => {
  it('when the instance table is read, then max pods are those of the EKS AMI (ENIs × (IPs − 1) + 2)', () => {
    expect(maxPods(INSTANCE_TYPES['m5.xlarge']!, false)).toBe(58);
    expect(maxPods(INSTANCE_TYPES['m5.large']!, false)).toBe(29);
    expect(maxPods(INSTANCE_TYPES['m6i.4xlarge']!, false)).toBe(234);
    expect(maxPods(INSTANCE_TYPES['t3.medium']!, false)).toBe(17);
    // Prefix delegation: capped at 110 below 30 vCPUs, 250 above.
    expect(maxPods(INSTANCE_TYPES['m5.xlarge']!, true)).toBe(110);
    expect(maxPods(INSTANCE_TYPES['m6i.8xlarge']!, true)).toBe(250);
  });

  it('when a node runs pods in secondary-IP mode, then it holds whole ENIs plus a warm one', () => {
    const m5 = INSTANCE_TYPES['m5.xlarge']!;
    expect(addressesPerNode(m5, 5)).toBe(2 * 15);
    expect(addressesPerNode(m5, 50)).toBe(4 * 15); // four ENIs are all it has
    const m6i = INSTANCE_TYPES['m6i.4xlarge']!;
    expect(addressesPerNode(m6i, 5)).toBe(2 * 30);
  });

  it('when prefix delegation is on, then a node holds /28 prefixes plus its ENIs’ primary addresses', () => {
    const m6i = INSTANCE_TYPES['m6i.4xlarge']!;
    const pd = { ...defaultCni, prefixDelegation: true };
    expect(addressesPerNode(m6i, 5, pd)).toBe(2 * 16 + 1);
    expect(addressesPerNode(m6i, 100, pd)).toBe(8 * 16 + 1);
  });

  it('when pods grow, then the addresses a node holds never shrink and always cover its pods', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...Object.keys(INSTANCE_TYPES)),
        fc.boolean(),
        fc.integer({ min: 0, max: 300 }),
        (name, prefixDelegation, pods) => {
          const type = INSTANCE_TYPES[name]!;
          const cni = { ...defaultCni, prefixDelegation };
          const p = Math.min(pods, maxPods(type, prefixDelegation) - 2);
          const q = Math.min(p + 1, maxPods(type, prefixDelegation) - 2);
          return (
            addressesPerNode(type, q, cni) >= addressesPerNode(type, p, cni) && addressesPerNode(type, p, cni) >= p
          );
        },
      ),
    );
  });
});

describe('plan', () => {
  it('when the reference’s first layout is planned, then each subnet has 11 addresses left and it is flagged', () => {
    const plan = planIps(exhausted);
    expect(plan.subnets.map((s) => s.free)).toEqual([11, 11, 11]);
    expect(plan.subnets.every((s) => s.status === 'low')).toBe(true);
    expect(plan.ok).toBe(false);
    expect(plan.problems[0]).toMatch(/10.0.1.0\/24: only 11 addresses left at full scale/);
  });

  it('when the same cluster gets six /20 subnets, then it fits with 24546 usable addresses', () => {
    const plan = planIps({ ...exhausted, subnets: sixSlash20, minFree: 410 });
    expect(plan.ok).toBe(true);
    expect(plan.subnets.reduce((s, x) => s + x.usable, 0)).toBe(24546);
    expect(plan.subnets.reduce((s, x) => s + x.needed, 0)).toBe(12 * 60);
  });

  it('when a subnet is too small or the pods exceed what the nodes hold, then it does not fit', () => {
    const small = planIps({ ...exhausted, subnets: ['10.0.1.0/26'], minFree: 0 });
    expect(small.subnets[0]!.status).toBe('exhausted');
    const crowded = planIps({ ...exhausted, pods: 2000, subnets: sixSlash20, minFree: 0 });
    expect(crowded.problems).toContainEqual(expect.stringMatching(/2000 pods do not fit on 12 nodes/));
  });
});

describe('the rendered overlay', () => {
  it('when the prod overlay is rendered, then its HPA maxima and surges give the pods at full scale', () => {
    const manifests = execFileSync(process.env.KUBECTL ?? 'kubectl', ['kustomize', prodOverlay], { encoding: 'utf8' });
    const workloads = workloadsOf(manifests);
    const byName = Object.fromEntries(workloads.map((w) => [w.name, w]));
    // Every service of the overlay (more arrive as services land: ingest and edge did).
    expect(Object.keys(byName)).toEqual(
      expect.arrayContaining(['auth', 'bff', 'chat', 'contents', 'point', 'stamp', 'thumbnail', 'timeline', 'user']),
    );
    expect(byName.bff).toEqual({ name: 'bff', max: 40, surge: 10 }); // maxSurge 25%
    expect(byName.user).toEqual({ name: 'user', max: 20, surge: 5 });
  });

  it('when plan-ips runs on the prod overlay and six /20 subnets, then it prints the plan and exits 0', () => {
    const lines: string[] = [];
    const code = planIpsCommand(
      [
        ...sixSlash20.flatMap((s) => ['--subnet', s]),
        '--nodes',
        'm6i.4xlarge=90',
        '--overlay',
        prodOverlay,
        '--pods',
        '60',
      ],
      (t) => lines.push(t),
    );
    const output = lines.join('\n');
    const workloads = workloadsOf(
      execFileSync(process.env.KUBECTL ?? 'kubectl', ['kustomize', prodOverlay], { encoding: 'utf8' }),
    );
    const max = workloads.reduce((n, w) => n + w.max, 0);
    const surge = workloads.reduce((n, w) => n + w.surge, 0);
    expect(workloads.length).toBeGreaterThanOrEqual(9);
    expect(output).toContain(
      `workloads: ${workloads.length} Deployments, ${max} pods at their HPA maxima + ${surge} during rollouts`,
    );
    expect(output).toMatch(/^total\s+24546\s/m);
    expect(output).toMatch(/full scale fits/);
    expect(code).toBe(0);
  });

  it('when plan-ips runs on subnets that are too small, then it says why and exits 1', () => {
    const lines: string[] = [];
    const code = planIpsCommand(
      ['--subnet', '10.0.1.0/24', '--subnet', '10.0.2.0/24', '--nodes', 'm6i.4xlarge=90', '--overlay', prodOverlay],
      (t) => lines.push(t),
    );
    expect(code).toBe(1);
    expect(lines.join('\n')).toMatch(/full scale does not fit:\n {2}- 10.0.1.0\/24: needs \d+ addresses, has 251/);
  });
});

describe('subnets read from Terraform (--from)', () => {
  const prodRoot = join(repoRoot, 'deploy/terraform/envs/prod');
  const run = async (argv: string[]) => {
    const lines: string[] = [];
    const code = await planIpsMain(argv, (t) => lines.push(t));
    return { code, output: lines.join('\n') };
  };

  it('when plan-ips reads the prod root, then six /20s give 6 × 4091 = 24546 pod addresses', async () => {
    const { code, output } = await run(['--from', prodRoot]);
    expect(code).toBe(0);
    expect(output).toMatch(/6 private subnets of .*envs\/prod \(module\.environment\.module\.network\.module\.vpc\)/);
    for (const cidr of sixSlash20)
      expect(output).toMatch(new RegExp(`^${cidr.replace(/[./]/g, '\\$&')}\\s+4091$`, 'm'));
    expect(output).toMatch(/^total\s+24546$/m);
    expect(output).toMatch(/24546 pod addresses \(6 × 4091\)/);
  });

  it('when the root turns on prefix delegation, then the plan uses it without --prefix-delegation', async () => {
    const { code, output } = await run(['--from', prodRoot, '--nodes', 'm6i.4xlarge=90', '--overlay', prodOverlay]);
    expect(output).toMatch(/VPC CNI: prefix delegation \(WARM_PREFIX_TARGET=1\)/);
    expect(output).toMatch(/^total\s+24546\s+90\s/m);
    expect(code).toBe(0);
  });

  it('when a root has /24 subnets, then their smaller total is what it reports', async () => {
    const { output } = await run(['--from', join(repoRoot, 'deploy/test/fixtures/terraform/subnet-slash-24')]);
    expect(output).toMatch(/^total\s+753$/m);
  });

  it('when --from and --subnet are both given, or --from names no Terraform root, then it refuses', async () => {
    await expect(run(['--from', prodRoot, '--subnet', '10.0.0.0/20'])).rejects.toThrow(/either --from or --subnet/);
    await expect(run(['--from', join(repoRoot, 'deploy/k8s')])).rejects.toThrow(/no \.tf files/);
  });
});
