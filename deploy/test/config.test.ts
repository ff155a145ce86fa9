import { parseConfig } from '@livehouse/kit';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { services } from '../../packages/cli/src/services.ts';
import { type K8sObject, ofKind, render } from './manifests.ts';

// biome-ignore lint/suspicious/noExplicitAny: manifests are read field by field
type Any = any;

const testSecrets: Record<string, string> = {
  LIVEHOUSE_INTERNAL_KEY: 'k'.repeat(32),
  LIVEHOUSE_DATABASE_URL: 'postgres://livehouse@db:5432/livehouse',
  LIVEHOUSE_REDIS_URL: 'redis://redis:6379',
  LIVEHOUSE_AUTH_SIGNING_KEY: 'signing-key',
};

function deploymentsOf(objects: K8sObject[]) {
  return ofKind(objects, 'Deployment')
    .filter((d) => d.metadata.labels?.['app.kubernetes.io/part-of'] === 'livehouse')
    .map((d) => {
      const pod = d.spec.template.spec;
      const volume = pod.volumes.find((v: Any) => v.name === 'config');
      const configMap = ofKind(objects, 'ConfigMap').find((m) => m.metadata.name === volume.configMap.name)!;
      const env = Object.fromEntries(
        pod.containers[0].env.map((e: Any) => [e.name, e.value ?? testSecrets[e.name] ?? `missing test value`]),
      );
      return {
        name: d.metadata.name as string,
        deployment: d,
        raw: parseYaml(configMap.data['application.yaml']),
        env,
      };
    });
}

describe.each(['dev', 'prod'])('the %s config files against the services’ own config schemas', (env) => {
  const objects = render(`deploy/k8s/overlays/${env}`);
  const deployments = deploymentsOf(objects);
  const registered = deployments.filter((d) => services[d.name]);

  it('when the CLI knows a service, then the overlay runs it', () => {
    expect(Object.keys(services).filter((s) => !deployments.some((d) => d.name === s))).toEqual([]);
  });

  it.each(registered.map((d) => [d.name, d] as const))(
    'when %s starts with its ConfigMap and the Secrets its pod gets, then the config validates',
    (_, { name, raw, env: podEnv }) => {
      const definition = services[name]!.definition;
      const config = parseConfig(raw, definition.config, { source: name, env: podEnv });
      // Every service it calls has a URL, and that URL is a Service of the same overlay on its API port.
      for (const callee of definition.dependsOn) {
        const url = config.services[callee];
        expect(url, `${name} → ${callee}`).toBe(`http://${callee}:8080`);
        expect(ofKind(objects, 'Service').some((s) => s.metadata.name === callee)).toBe(true);
      }
      if (definition.migrations) expect(config.database?.url).toBe(testSecrets.LIVEHOUSE_DATABASE_URL);
    },
  );

  it('when a service calls another, then the callee’s NetworkPolicy admits the caller on its API port', () => {
    const missing: string[] = [];
    for (const { name } of registered) {
      for (const callee of services[name]!.definition.dependsOn) {
        const policy = ofKind(objects, 'NetworkPolicy').find((p) => p.metadata.name === callee);
        const admits = policy?.spec.ingress.some(
          (rule: Any) =>
            rule.ports.some((p: Any) => p.port === 'http') &&
            rule.from.some((peer: Any) => peer.podSelector?.matchLabels?.['app.kubernetes.io/name'] === name),
        );
        if (!admits) missing.push(`${name} → ${callee}`);
      }
    }
    expect(missing).toEqual([]);
  });
});
