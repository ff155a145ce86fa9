import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

/** A rendered Kubernetes object: only the fields every object has are typed; policies read the rest loosely. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  // biome-ignore lint/suspicious/noExplicitAny: manifests are checked by schema, then read field by field
  spec?: any;
  // biome-ignore lint/suspicious/noExplicitAny: see above
  [field: string]: any;
}

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** kubectl 1.32 (Kustomize 5.5) is on the machine image; KUBECTL names another binary. */
const kubectl = process.env.KUBECTL ?? 'kubectl';

const rendered = new Map<string, K8sObject[]>();

/** `kubectl kustomize <dir>` (relative to the repo root), parsed; cached per directory. */
export function render(dir: string): K8sObject[] {
  const cached = rendered.get(dir);
  if (cached) return cached;
  let out: string;
  try {
    out = execFileSync(kubectl, ['kustomize', join(repoRoot, dir)], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new Error(`'${kubectl}' not found: these checks need kubectl ≥ 1.27 (Kustomize 5)`);
    throw new Error(`kubectl kustomize ${dir} failed: ${e.stderr ?? e.message}`);
  }
  const objects = parseYaml(out);
  rendered.set(dir, objects);
  return objects;
}

export function parseYaml(text: string): K8sObject[] {
  return parseAllDocuments(text)
    .map((doc) => {
      if (doc.errors.length > 0) throw doc.errors[0];
      return doc.toJS() as K8sObject | null;
    })
    .filter((o): o is K8sObject => o !== null);
}

/** A fixture under deploy/test/fixtures. */
export function fixture(name: string): K8sObject[] {
  return parseYaml(readFileSync(join(repoRoot, 'deploy', 'test', 'fixtures', name), 'utf8'));
}

export const ofKind = (objects: K8sObject[], kind: string) => objects.filter((o) => o.kind === kind);

export const id = (o: K8sObject) =>
  `${o.kind}/${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`;

/** The image's ENTRYPOINT (exec form), as the Dockerfile declares it. */
export function dockerEntrypoint(dockerfile = readFileSync(join(repoRoot, 'deploy/docker/Dockerfile'), 'utf8')) {
  const line = dockerfile.split('\n').findLast((l) => l.startsWith('ENTRYPOINT '));
  if (!line) throw new Error('the Dockerfile has no ENTRYPOINT');
  return JSON.parse(line.slice('ENTRYPOINT '.length)) as string[];
}
