import { readdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';

// Loaded untyped: the package's .d.ts references lib "dom", whose Performance type would replace Node's in every file.
const { parse } = createRequire(import.meta.url)('@cdktf/hcl2json') as {
  parse: (filename: string, contents: string) => Promise<Record<string, unknown>>;
};

/**
 * Terraform configuration read without the terraform binary: every `.tf` file goes through HashiCorp's own HCL
 * parser (hcl2json, compiled to WebAssembly), then a small evaluator follows `var.` and `local.` references
 * through local module calls, so that checks see the values each registry module or resource really receives.
 * It evaluates literals and plain references only; any other expression stays the `${…}` string Terraform wrote.
 */

export type HclValue = string | number | boolean | null | HclValue[] | { [key: string]: HclValue };
type HclObject = { [key: string]: HclValue };

/** A resource, data source, ephemeral resource or module call, with its arguments evaluated as far as possible. */
export interface Block {
  kind: 'resource' | 'data' | 'ephemeral' | 'module';
  /** The resource type, or for a module call its source. */
  type: string;
  name: string;
  /** e.g. `module.data.module.postgres` or `module.network.aws_security_group.alb`. */
  address: string;
  /** Absolute directory of the file that declares it. */
  dir: string;
  file: string;
  attrs: HclObject;
}

/** One module instance: a directory of .tf files and what its caller passed in. */
export interface Instance {
  dir: string;
  /** `''` for the root, else e.g. `module.data`. */
  path: string;
  blocks: Block[];
  children: Instance[];
  variables: Record<string, { default?: HclValue }>;
  outputs: Record<string, HclObject>;
}

interface ParsedDir {
  files: { file: string; body: Record<string, unknown> }[];
}

const parsed = new Map<string, Promise<ParsedDir>>();

/** Every `.tf` file of a directory (not its subdirectories), parsed; a syntax error names the file and line. */
export function parseDir(dir: string): Promise<ParsedDir> {
  const key = resolve(dir);
  let result = parsed.get(key);
  if (!result) {
    result = (async () => {
      const names = (await readdir(key)).filter((f) => f.endsWith('.tf')).sort();
      if (names.length === 0) throw new Error(`${dir}: no .tf files`);
      const files = [];
      for (const name of names) {
        const file = join(key, name);
        files.push({ file, body: await parseFile(file) });
      }
      return { files };
    })();
    parsed.set(key, result);
  }
  return result;
}

/** One file through HCL's parser; throws with the parser's diagnostics on invalid HCL. */
export async function parseFile(file: string, contents?: string): Promise<Record<string, unknown>> {
  return parse(file, contents ?? (await readFile(file, 'utf8')));
}

const isObject = (v: unknown): v is HclObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** hcl2json gives each block as a one-element list (blocks may repeat); a labelled block's body is that element. */
function first(v: unknown): HclObject {
  return Array.isArray(v) && isObject(v[0]) ? v[0] : isObject(v) ? v : {};
}

const REFERENCE = /\$\{(var|local)\.([A-Za-z0-9_.-]+)\}/g;
const WHOLE_REFERENCE = /^\$\{(var|local)\.([A-Za-z0-9_.-]+)\}$/;

interface Scope {
  inputs: Record<string, HclValue>;
  variables: Record<string, { default?: HclValue }>;
  locals: HclObject;
  depth: number;
}

function lookup(scope: Scope, kind: string, path: string): HclValue | undefined {
  const [head, ...rest] = path.split('.');
  if (head === undefined) return undefined;
  let value: HclValue | undefined;
  const input = kind === 'var' && head in scope.inputs;
  if (input) value = scope.inputs[head];
  else if (kind === 'var') value = scope.variables[head]?.default;
  else value = scope.locals[head];
  if (value === undefined) return undefined;
  // Locals and defaults may refer to other variables and locals; an input was evaluated in its caller's scope, so a
  // reference left in it (`${var.x}` of the root) must not be read as this module's own variable.
  if (!input && scope.depth < 20) value = evaluate(value, { ...scope, depth: scope.depth + 1 });
  for (const key of rest) {
    if (!isObject(value)) return undefined;
    value = value[key];
  }
  return value;
}

/** Replaces plain `${var.x}` / `${local.y.z}` references by their values; leaves every other expression as written. */
export function evaluate(value: HclValue, scope: Scope): HclValue {
  if (typeof value === 'string') {
    const whole = WHOLE_REFERENCE.exec(value);
    if (whole) {
      const found = lookup(scope, whole[1] ?? '', whole[2] ?? '');
      return found === undefined ? value : found;
    }
    return value.replace(REFERENCE, (text, kind: string, path: string) => {
      const found = lookup(scope, kind, path);
      return typeof found === 'string' || typeof found === 'number' || typeof found === 'boolean'
        ? String(found)
        : text;
    });
  }
  if (Array.isArray(value)) return value.map((v) => evaluate(v, scope));
  // Keys too: a for_each map's keys are often names (`"${var.cluster_name}-reader" = …`).
  if (isObject(value))
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [evaluate(k, scope) as string, evaluate(v, scope)]),
    );
  return value;
}

const META_ARGUMENTS = new Set(['source', 'version', 'providers', 'depends_on', 'count', 'for_each']);

/** A module source that is a directory of this repository (`./…`, `../…`). */
export const isLocalSource = (source: string) => source.startsWith('./') || source.startsWith('../');

/**
 * The module tree of a root: its own blocks, and through every local module call, the blocks of that module with
 * the caller's arguments substituted for its variables. Registry and git modules are leaves (their source and
 * version are what is checked).
 */
export async function instantiate(dir: string, inputs: Record<string, HclValue> = {}, path = ''): Promise<Instance> {
  const { files } = await parseDir(dir);
  const variables: Instance['variables'] = {};
  const rawLocals: HclObject = {};
  const outputs: Instance['outputs'] = {};
  for (const { body } of files) {
    for (const [name, v] of Object.entries((body.variable as HclObject | undefined) ?? {})) {
      const decl = first(v);
      variables[name] = 'default' in decl ? { default: decl.default ?? null } : {};
    }
    for (const group of (body.locals as HclValue[] | undefined) ?? [])
      if (isObject(group)) Object.assign(rawLocals, group);
    for (const [name, v] of Object.entries((body.output as HclObject | undefined) ?? {})) outputs[name] = first(v);
  }
  const scope: Scope = { inputs, variables, locals: rawLocals, depth: 0 };
  const prefix = path ? `${path}.` : '';
  const blocks: Block[] = [];
  const children: Instance[] = [];
  const absDir = resolve(dir);
  for (const { file, body } of files) {
    for (const kind of ['resource', 'data', 'ephemeral'] as const) {
      for (const [type, byName] of Object.entries((body[kind] as HclObject | undefined) ?? {})) {
        for (const [name, v] of Object.entries(isObject(byName) ? byName : {})) {
          const attrs = evaluate(first(v), scope) as HclObject;
          const address = `${prefix}${kind === 'resource' ? '' : `${kind}.`}${type}.${name}`;
          blocks.push({ kind, type, name, address, dir: absDir, file, attrs });
        }
      }
    }
    for (const [name, v] of Object.entries((body.module as HclObject | undefined) ?? {})) {
      const raw = first(v);
      const source = typeof raw.source === 'string' ? raw.source : '';
      const attrs = evaluate(raw, scope) as HclObject;
      const address = `${prefix}module.${name}`;
      blocks.push({ kind: 'module', type: source, name, address, dir: absDir, file, attrs });
      if (isLocalSource(source)) {
        const args = Object.fromEntries(Object.entries(attrs).filter(([k]) => !META_ARGUMENTS.has(k)));
        children.push(await instantiate(join(dir, source), args, address));
      }
    }
  }
  return { dir, path, blocks, children, variables, outputs };
}

/** Every block of the tree, root first. */
export function allBlocks(instance: Instance): Block[] {
  return [...instance.blocks, ...instance.children.flatMap(allBlocks)];
}

/** The registry module a source names, without its `//submodule` part: `terraform-aws-modules/vpc/aws`. */
export function registryModule(source: string): string {
  return source.split('//')[0] ?? source;
}

/** Every `.tf` file under a directory, recursively (skipping .terraform caches). */
export async function tfFilesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== '.terraform' && entry.name !== 'node_modules') out.push(...(await tfFilesUnder(p)));
    } else if (entry.name.endsWith('.tf')) out.push(p);
  }
  return out.sort();
}

/** The private subnets a root gives its VPC (terraform-aws-modules/vpc), evaluated through its module calls. */
export async function privateSubnetsOf(dir: string): Promise<{ cidrs: string[]; address: string }> {
  const root = await instantiate(dir);
  const vpcs = allBlocks(root).filter(
    (b) => b.kind === 'module' && registryModule(b.type) === 'terraform-aws-modules/vpc/aws' && !b.type.includes('//'),
  );
  if (vpcs.length !== 1) throw new Error(`${dir}: expected one terraform-aws-modules/vpc module, found ${vpcs.length}`);
  const vpc = vpcs[0];
  const subnets = vpc?.attrs.private_subnets;
  if (!Array.isArray(subnets) || !subnets.every((s): s is string => typeof s === 'string' && !s.includes('${')))
    throw new Error(
      `${dir}: ${vpc?.address}.private_subnets is not a list of literal CIDRs (${JSON.stringify(subnets)})`,
    );
  return { cidrs: subnets, address: vpc?.address ?? '' };
}

/** The VPC CNI's prefix delegation setting, read from the vpc-cni add-on's configuration of the EKS module. */
export async function vpcCniOf(dir: string): Promise<{ prefixDelegation: boolean; warmPrefixes?: number }> {
  const root = await instantiate(dir);
  const eks = allBlocks(root).find((b) => b.kind === 'module' && b.type === 'terraform-aws-modules/eks/aws');
  const addons = eks?.attrs.addons;
  const cni = isObject(addons) ? addons['vpc-cni'] : undefined;
  const config = isObject(cni) && typeof cni.configuration_values === 'string' ? cni.configuration_values : '';
  // configuration_values is a jsonencode({...}) expression: read the two settings from its text.
  const prefixDelegation = /ENABLE_PREFIX_DELEGATION\s*=\s*"true"/.test(config);
  const warm = /WARM_PREFIX_TARGET\s*=\s*"(\d+)"/.exec(config)?.[1];
  return warm === undefined ? { prefixDelegation } : { prefixDelegation, warmPrefixes: Number(warm) };
}
