import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { privateSubnetsOf, vpcCniOf } from './terraform.ts';

/**
 * `livehouse plan-ips`: will the pods fit in the subnets at full scale? Under the AWS VPC CNI every pod takes a
 * VPC address from its node's subnet, and a node holds more addresses than it runs pods (whole ENIs in secondary-IP
 * mode, /28 prefixes with prefix delegation). The reference platform found out in production: its subnets had 11
 * addresses left, and it moved to /20 subnets (4091 usable each, 24546 in six).
 */

export interface InstanceType {
  vcpus: number;
  /** Network interfaces the instance can attach. */
  enis: number;
  /** IPv4 addresses per network interface (its primary address included). */
  ipsPerEni: number;
}

/**
 * Source: Amazon EC2 User Guide, "Maximum IP addresses per network interface" (the limits behind the EKS AMI's
 * eni-max-pods.txt, where max pods = ENIs × (IPs per ENI − 1) + 2).
 */
export const INSTANCE_TYPES: Record<string, InstanceType> = {
  't3.medium': { vcpus: 2, enis: 3, ipsPerEni: 6 },
  't3.large': { vcpus: 2, enis: 3, ipsPerEni: 12 },
  't3.xlarge': { vcpus: 4, enis: 4, ipsPerEni: 15 },
  't3.2xlarge': { vcpus: 8, enis: 4, ipsPerEni: 15 },
  'm5.large': { vcpus: 2, enis: 3, ipsPerEni: 10 },
  'm5.xlarge': { vcpus: 4, enis: 4, ipsPerEni: 15 },
  'm5.2xlarge': { vcpus: 8, enis: 4, ipsPerEni: 15 },
  'm5.4xlarge': { vcpus: 16, enis: 8, ipsPerEni: 30 },
  'm5.8xlarge': { vcpus: 32, enis: 8, ipsPerEni: 30 },
  'm6i.large': { vcpus: 2, enis: 3, ipsPerEni: 10 },
  'm6i.xlarge': { vcpus: 4, enis: 4, ipsPerEni: 15 },
  'm6i.2xlarge': { vcpus: 8, enis: 4, ipsPerEni: 15 },
  'm6i.4xlarge': { vcpus: 16, enis: 8, ipsPerEni: 30 },
  'm6i.8xlarge': { vcpus: 32, enis: 8, ipsPerEni: 30 },
  'm6a.xlarge': { vcpus: 4, enis: 4, ipsPerEni: 15 },
  'm6a.4xlarge': { vcpus: 16, enis: 8, ipsPerEni: 30 },
  'm7i.xlarge': { vcpus: 4, enis: 4, ipsPerEni: 15 },
  'm7i.2xlarge': { vcpus: 8, enis: 4, ipsPerEni: 15 },
  'm7i.4xlarge': { vcpus: 16, enis: 8, ipsPerEni: 30 },
  'm7a.xlarge': { vcpus: 4, enis: 4, ipsPerEni: 15 },
  'm7a.4xlarge': { vcpus: 16, enis: 8, ipsPerEni: 30 },
  'm7g.xlarge': { vcpus: 4, enis: 4, ipsPerEni: 15 },
  'm7g.4xlarge': { vcpus: 16, enis: 8, ipsPerEni: 30 },
  'c5.xlarge': { vcpus: 4, enis: 4, ipsPerEni: 15 },
  'c5.4xlarge': { vcpus: 16, enis: 8, ipsPerEni: 30 },
  'c6i.xlarge': { vcpus: 4, enis: 4, ipsPerEni: 15 },
  'c6i.4xlarge': { vcpus: 16, enis: 8, ipsPerEni: 30 },
  'c7i.xlarge': { vcpus: 4, enis: 4, ipsPerEni: 15 },
  'c7i.4xlarge': { vcpus: 16, enis: 8, ipsPerEni: 30 },
  'r5.xlarge': { vcpus: 4, enis: 4, ipsPerEni: 15 },
  'r6i.xlarge': { vcpus: 4, enis: 4, ipsPerEni: 15 },
};

/** AWS keeps the first four addresses of every subnet and the last one. */
export const AWS_RESERVED_PER_SUBNET = 5;
/** An IPv4 prefix assigned to an ENI under prefix delegation: a /28. */
const PREFIX_SIZE = 16;

export interface Subnet {
  cidr: string;
  size: number;
  usable: number;
}

/** A VPC subnet CIDR (/16 to /28, as AWS allows) and the addresses pods and nodes can use in it. */
export function parseSubnet(cidr: string): Subnet {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr.trim());
  if (!match || match.slice(1, 5).some((o) => Number(o) > 255))
    throw new Error(`'${cidr}' is not an IPv4 CIDR like 10.0.0.0/20`);
  const bits = Number(match[5]);
  if (bits < 16 || bits > 28) throw new Error(`'${cidr}': AWS subnets are /16 to /28`);
  const size = 2 ** (32 - bits);
  return { cidr: cidr.trim(), size, usable: size - AWS_RESERVED_PER_SUBNET };
}

export interface CniMode {
  prefixDelegation: boolean;
  /** WARM_ENI_TARGET (secondary-IP mode): whole spare ENIs each node keeps attached. Default 1. */
  warmEnis: number;
  /** WARM_PREFIX_TARGET (prefix delegation): spare /28 prefixes per node. Default 1. */
  warmPrefixes: number;
}

export const defaultCni: CniMode = { prefixDelegation: false, warmEnis: 1, warmPrefixes: 1 };

/** The pods a node may run (the kubelet's max-pods as the EKS AMI sets it). */
export function maxPods(type: InstanceType, prefixDelegation: boolean) {
  if (!prefixDelegation) return type.enis * (type.ipsPerEni - 1) + 2;
  return Math.min(type.enis * (type.ipsPerEni - 1) * PREFIX_SIZE + 2, type.vcpus < 30 ? 110 : 250);
}

/**
 * VPC addresses one node holds while running `pods` pods with pod networking. Secondary-IP mode: every attached
 * ENI takes all its addresses, and the CNI keeps `warmEnis` spare ENIs. Prefix delegation: a /28 per 16 pods
 * plus `warmPrefixes`, and each ENI's primary address.
 */
export function addressesPerNode(type: InstanceType, pods: number, cni: CniMode = defaultCni) {
  if (!cni.prefixDelegation) {
    const enis = Math.min(type.enis, Math.ceil(pods / (type.ipsPerEni - 1)) + cni.warmEnis);
    return Math.max(1, enis) * type.ipsPerEni;
  }
  const prefixes = Math.ceil(pods / PREFIX_SIZE) + cni.warmPrefixes;
  const enis = Math.min(type.enis, Math.max(1, Math.ceil(prefixes / (type.ipsPerEni - 1))));
  return prefixes * PREFIX_SIZE + enis;
}

// biome-ignore lint/suspicious/noExplicitAny: manifests are read field by field
type Any = any;

export interface Workload {
  name: string;
  /** Replicas at full scale: the HPA's maxReplicas, else the Deployment's replicas. */
  max: number;
  /** Extra pods while a rolling update runs at full scale (the Deployment's maxSurge). */
  surge: number;
}

function surgeOf(maxSurge: string | number | undefined, replicas: number) {
  if (maxSurge === undefined) return Math.ceil(replicas * 0.25);
  if (typeof maxSurge === 'number') return maxSurge;
  return maxSurge.endsWith('%') ? Math.ceil((replicas * Number.parseFloat(maxSurge)) / 100) : Number(maxSurge);
}

/** The Deployments of rendered manifests, at full scale (HPA maxima) and with their rollout surge. */
export function workloadsOf(manifests: string): Workload[] {
  const objects = parseAllDocuments(manifests)
    .map((d) => d.toJS() as Any)
    .filter(Boolean);
  const hpas = objects.filter((o) => o.kind === 'HorizontalPodAutoscaler');
  return objects
    .filter((o) => o.kind === 'Deployment')
    .map((d) => {
      const hpa = hpas.find(
        (h) =>
          h.spec?.scaleTargetRef?.kind === 'Deployment' &&
          h.spec.scaleTargetRef.name === d.metadata.name &&
          (h.metadata.namespace ?? '') === (d.metadata.namespace ?? ''),
      );
      const max = hpa ? Number(hpa.spec.maxReplicas) : Number(d.spec?.replicas ?? 1);
      return { name: d.metadata.name, max, surge: surgeOf(d.spec?.strategy?.rollingUpdate?.maxSurge, max) };
    });
}

export interface PlanInput {
  subnets: string[];
  /** Nodes at full scale by instance type, spread evenly over the subnets (one subnet per zone). */
  nodes: Record<string, number>;
  /** Pods with pod networking at full scale (workloads at their maxima, with surge). */
  pods: number;
  /** Daemon-set pods with pod networking on every node (hostNetwork ones such as aws-node and kube-proxy don't count). */
  daemonSetPods: number;
  cni: CniMode;
  /** Addresses other things take in each subnet (load balancers, databases, endpoints). */
  reservedPerSubnet: number;
  /** A subnet with fewer addresses left than this is flagged: a rollout, a node replacement or a spot wave fails. */
  minFree: number;
}

export interface SubnetPlan extends Subnet {
  nodes: number;
  needed: number;
  free: number;
  status: 'ok' | 'low' | 'exhausted';
}

export interface Plan {
  subnets: SubnetPlan[];
  podsPerNode: number;
  nodeCount: number;
  capacity: number;
  problems: string[];
  ok: boolean;
}

/** Where full scale puts addresses, subnet by subnet. */
export function planIps(input: PlanInput): Plan {
  const subnets = input.subnets.map(parseSubnet);
  const problems: string[] = [];
  const nodes: InstanceType[] = [];
  for (const [name, count] of Object.entries(input.nodes)) {
    const type = INSTANCE_TYPES[name];
    if (!type) throw new Error(`unknown instance type '${name}': one of ${Object.keys(INSTANCE_TYPES).join(', ')}`);
    for (let i = 0; i < count; i++) nodes.push(type);
  }
  if (subnets.length === 0) throw new Error('give at least one --subnet');
  if (nodes.length === 0) throw new Error('give the nodes at full scale: --nodes <instance-type>=<count>');
  const podsPerNode = Math.ceil(input.pods / nodes.length) + input.daemonSetPods;
  const capacity = nodes.reduce((sum, t) => sum + maxPods(t, input.cni.prefixDelegation) - input.daemonSetPods, 0);
  if (input.pods > capacity)
    problems.push(`${input.pods} pods do not fit on ${nodes.length} nodes: they hold ${capacity} besides daemon sets`);
  const perSubnet = subnets.map((s) => ({ ...s, nodes: 0, needed: input.reservedPerSubnet }));
  nodes.forEach((type, i) => {
    const subnet = perSubnet[i % perSubnet.length]!;
    subnet.nodes += 1;
    subnet.needed += addressesPerNode(
      type,
      Math.min(podsPerNode, maxPods(type, input.cni.prefixDelegation)),
      input.cni,
    );
  });
  const planned: SubnetPlan[] = perSubnet.map((s) => {
    const free = s.usable - s.needed;
    const status = free < 0 ? 'exhausted' : free < input.minFree ? 'low' : 'ok';
    if (status === 'exhausted') problems.push(`${s.cidr}: needs ${s.needed} addresses, has ${s.usable}`);
    if (status === 'low') problems.push(`${s.cidr}: only ${free} addresses left at full scale (< ${input.minFree})`);
    return { ...s, free, status };
  });
  return { subnets: planned, podsPerNode, nodeCount: nodes.length, capacity, problems, ok: problems.length === 0 };
}

export function formatPlan(plan: Plan, input: PlanInput, workloads?: Workload[]): string {
  const lines: string[] = [];
  if (workloads) {
    const max = workloads.reduce((s, w) => s + w.max, 0);
    const surge = workloads.reduce((s, w) => s + w.surge, 0);
    lines.push(
      `workloads: ${workloads.length} Deployments, ${max} pods at their HPA maxima + ${surge} during rollouts`,
    );
  }
  const mode = input.cni.prefixDelegation
    ? `prefix delegation (WARM_PREFIX_TARGET=${input.cni.warmPrefixes})`
    : `secondary IPs (WARM_ENI_TARGET=${input.cni.warmEnis})`;
  const types = Object.entries(input.nodes)
    .map(([t, n]) => `${n} × ${t}`)
    .join(', ');
  lines.push(
    `pods: ${input.pods} + ${input.daemonSetPods} daemon-set pods per node; nodes: ${types}; VPC CNI: ${mode}`,
  );
  lines.push(
    `≈ ${plan.podsPerNode} pods per node; the nodes' network interfaces hold ${plan.capacity} pods besides daemon sets`,
  );
  lines.push('');
  const row = (cells: (string | number)[]) =>
    cells.map((c, i) => (i === 0 ? String(c).padEnd(18) : String(c).padStart(8))).join(' ');
  lines.push(row(['subnet', 'usable', 'nodes', 'needed', 'free', 'status']));
  for (const s of plan.subnets) lines.push(row([s.cidr, s.usable, s.nodes, s.needed, s.free, s.status]));
  const total = (k: 'usable' | 'nodes' | 'needed' | 'free') => plan.subnets.reduce((sum, s) => sum + s[k], 0);
  lines.push(row(['total', total('usable'), total('nodes'), total('needed'), total('free'), plan.ok ? 'ok' : 'NO']));
  lines.push('');
  lines.push(
    plan.ok ? 'full scale fits.' : `full scale does not fit:\n${plan.problems.map((p) => `  - ${p}`).join('\n')}`,
  );
  return lines.join('\n');
}

const USAGE = `usage: livehouse plan-ips (--subnet CIDR [--subnet CIDR…] | --from TERRAFORM_ROOT) [--nodes TYPE=COUNT …]
         [--overlay DIR | --manifests FILE] [--pods N] [--daemonset-pods N] [--prefix-delegation]
         [--warm-enis N] [--warm-prefixes N] [--reserved N] [--min-free N]

  --from reads the private subnets of a Terraform root (e.g. deploy/terraform/envs/prod) and its VPC CNI mode
  (prefix delegation, WARM_PREFIX_TARGET); without --nodes it prints the addresses they give.
  Pods at full scale: every Deployment of the overlay (rendered with kubectl kustomize) or of the rendered
  manifests at its HPA maximum plus its rollout surge, plus --pods (other namespaces: add-ons, …).
  Exits 1 when a subnet runs out or keeps fewer than --min-free addresses (default 10% of it).`;

/** What `--from` read out of a Terraform root. */
export interface TerraformNetwork {
  dir: string;
  address: string;
  subnets: string[];
  prefixDelegation: boolean;
  warmPrefixes?: number;
}

/** Reads the subnets and VPC CNI settings of a Terraform root (`--from`). */
export async function readTerraformNetwork(dir: string): Promise<TerraformNetwork> {
  const { cidrs, address } = await privateSubnetsOf(dir);
  const cni = await vpcCniOf(dir);
  return { dir, address, subnets: cidrs, ...cni };
}

/** The command with `--from` read first (the CLI's entry); returns the exit code. */
export async function planIpsMain(argv: string[], out: (text: string) => void = console.log): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { from: { type: 'string' } }, strict: false });
  const network = typeof values.from === 'string' ? await readTerraformNetwork(values.from) : undefined;
  return planIpsCommand(argv, out, network);
}

function formatCapacity(network: TerraformNetwork, mode: string): string {
  const subnets = network.subnets.map(parseSubnet);
  const total = subnets.reduce((sum, s) => sum + s.usable, 0);
  const row = (a: string | number, b: string | number) => `${String(a).padEnd(18)} ${String(b).padStart(8)}`;
  const sizes = [...new Set(subnets.map((s) => s.usable))];
  const product = sizes.length === 1 ? ` (${subnets.length} × ${sizes[0]})` : '';
  return [
    row('subnet', 'usable'),
    ...subnets.map((s) => row(s.cidr, s.usable)),
    row('total', total),
    '',
    `${total} pod addresses${product} in ${mode}. Add --nodes (and --overlay) to plan full scale against them.`,
  ].join('\n');
}

/** The command; returns the exit code. `network` is what `--from` read (planIpsMain reads it). */
export function planIpsCommand(
  argv: string[],
  out: (text: string) => void = console.log,
  network?: TerraformNetwork,
): number {
  const { values } = parseArgs({
    args: argv,
    options: {
      subnet: { type: 'string', multiple: true, default: [] },
      from: { type: 'string' },
      nodes: { type: 'string', multiple: true, default: [] },
      overlay: { type: 'string' },
      manifests: { type: 'string' },
      pods: { type: 'string', default: '0' },
      'daemonset-pods': { type: 'string', default: '2' },
      'prefix-delegation': { type: 'boolean' },
      'warm-enis': { type: 'string', default: '1' },
      'warm-prefixes': { type: 'string' },
      reserved: { type: 'string', default: '0' },
      'min-free': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    out(USAGE);
    return 0;
  }
  if (values.from !== undefined && !network) throw new Error('--from is read by planIpsMain (the livehouse CLI)');
  if (network && values.subnet.length > 0) throw new Error('give either --from or --subnet, not both');
  const int = (name: string, v: string) => {
    if (!/^\d+$/.test(v)) throw new Error(`--${name} must be a whole number, not '${v}'`);
    return Number(v);
  };
  const prefixDelegation = values['prefix-delegation'] ?? network?.prefixDelegation ?? false;
  const warmPrefixes =
    values['warm-prefixes'] === undefined
      ? (network?.warmPrefixes ?? 1)
      : int('warm-prefixes', values['warm-prefixes']);
  const subnets = network ? network.subnets : values.subnet;
  if (network) {
    const mode = prefixDelegation ? `prefix delegation (WARM_PREFIX_TARGET=${warmPrefixes})` : 'secondary IPs';
    out(`subnets: ${subnets.length} private subnets of ${network.dir} (${network.address}); VPC CNI: ${mode}`);
    if (values.nodes.length === 0) {
      out(formatCapacity(network, `${subnets.length} subnets`));
      return 0;
    }
  }
  const nodes: Record<string, number> = {};
  for (const n of values.nodes) {
    const [type, count] = n.split('=');
    if (!type || count === undefined) throw new Error(`--nodes takes TYPE=COUNT, e.g. m6i.4xlarge=30, not '${n}'`);
    nodes[type] = (nodes[type] ?? 0) + int('nodes', count);
  }
  let manifests: string | undefined;
  if (values.manifests) manifests = readFileSync(values.manifests, 'utf8');
  else if (values.overlay)
    manifests = execFileSync(process.env.KUBECTL ?? 'kubectl', ['kustomize', values.overlay], { encoding: 'utf8' });
  const workloads = manifests === undefined ? undefined : workloadsOf(manifests);
  const workloadPods = (workloads ?? []).reduce((s, w) => s + w.max + w.surge, 0);
  const smallest = Math.min(...subnets.map((s) => parseSubnet(s).usable));
  const input: PlanInput = {
    subnets,
    nodes,
    pods: workloadPods + int('pods', values.pods),
    daemonSetPods: int('daemonset-pods', values['daemonset-pods']),
    cni: {
      prefixDelegation,
      warmEnis: int('warm-enis', values['warm-enis']),
      warmPrefixes,
    },
    reservedPerSubnet: int('reserved', values.reserved),
    minFree: values['min-free'] === undefined ? Math.ceil(smallest * 0.1) : int('min-free', values['min-free']),
  };
  const plan = planIps(input);
  out(formatPlan(plan, input, workloads));
  return plan.ok ? 0 : 1;
}
