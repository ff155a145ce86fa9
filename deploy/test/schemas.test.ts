import { describe, expect, it } from 'vitest';
import { fixture, id, render } from './manifests.ts';
import { validateObject } from './schemas.ts';

const renderedTrees = [
  'deploy/k8s/overlays/dev',
  'deploy/k8s/overlays/prod',
  'deploy/k8s/clusters/dev',
  'deploy/k8s/clusters/prod',
  'deploy/k8s/monitoring',
  'deploy/argocd/clusters/dev',
  'deploy/argocd/clusters/prod',
] as const;

describe('schemas', () => {
  it.each(renderedTrees)(
    'when %s is rendered with kubectl kustomize, then every object validates against its schema',
    async (dir) => {
      const objects = render(dir);
      expect(objects.length).toBeGreaterThan(0);
      const problems: string[] = [];
      for (const object of objects) {
        await validateObject(object).catch((err: Error) => problems.push(`${id(object)}: ${err.message}`));
      }
      expect(problems).toEqual([]);
    },
  );

  it.each(['dev', 'prod'])('when the %s cluster’s root Application is read, then it validates too', async (env) => {
    const [root] = fixture(`../../argocd/clusters/${env}/root.yaml`);
    await expect(validateObject(root!)).resolves.toBeUndefined();
    expect(root?.spec.source.path).toBe(`deploy/argocd/clusters/${env}`);
  });

  it('when an object has a wrong type, a missing required field or an unknown kind, then validation fails', async () => {
    const [wrongType, missing, unknown] = fixture('invalid-schema.yaml');
    await expect(validateObject(wrongType!)).rejects.toThrow(/containerPort must be integer/);
    await expect(validateObject(missing!)).rejects.toThrow(/must have required property scaleTargetRef/);
    await expect(validateObject(unknown!)).rejects.toThrow(/no schema for example.com\/v1 Widget/);
  });
});
