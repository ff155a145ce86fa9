import type { K8sObject } from './manifests.ts';

/** Where the model (JSON schema validator) of each API group lives. */
const packages: Record<string, string> = {
  'argoproj.io': '@kubernetes-models/argo-cd',
  'monitoring.coreos.com': '@kubernetes-models/prometheus-operator',
  'karpenter.sh': '@kubernetes-models/karpenter',
  'karpenter.k8s.aws': '@kubernetes-models/karpenter',
  'external-secrets.io': '@kubernetes-models/external-secrets',
};

interface Model {
  validate(): void;
}

/**
 * Validates an object against the schema of its apiVersion and kind (types, enums, required fields), with the
 * models of `kubernetes-models` and `@kubernetes-models/*`. Throws when the kind has no known schema.
 */
export async function validateObject(object: K8sObject): Promise<void> {
  const [group, version] = object.apiVersion.includes('/') ? object.apiVersion.split('/') : ['', object.apiVersion];
  const pkg = group ? (packages[group] ?? 'kubernetes-models') : 'kubernetes-models';
  const path = group ? `${pkg}/${group}/${version}/${object.kind}` : `${pkg}/${version}/${object.kind}`;
  let Class: new (data: unknown) => Model;
  try {
    const module = (await import(path)) as Record<string, new (data: unknown) => Model>;
    Class = module[object.kind]!;
    if (!Class) throw new Error('no export');
  } catch {
    throw new Error(`no schema for ${object.apiVersion} ${object.kind} (looked for ${path})`);
  }
  new Class(object).validate();
}
