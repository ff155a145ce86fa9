import { parseConfig } from '@livehouse/kit';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { services } from '../../packages/cli/src/services.ts';
import { type K8sObject, ofKind, render } from './manifests.ts';
import { egressAllowed, modelCluster, serviceCallAllowed } from './network.ts';

// biome-ignore lint/suspicious/noExplicitAny: manifests are read field by field
type Any = any;

const testSecrets: Record<string, string> = {
  LIVEHOUSE_INTERNAL_KEY: 'k'.repeat(32),
  LIVEHOUSE_DATABASE_URL: 'postgres://livehouse@db:5432/livehouse',
  LIVEHOUSE_REDIS_URL: 'redis://redis:6379',
  LIVEHOUSE_AUTH_SIGNING_KEY: 'signing-key',
};

/** Every `{ kind: 'filesystem' }` storage section of a config (after defaults), by its path in the file. */
function filesystemStorage(value: unknown, path = ''): string[] {
  if (!value || typeof value !== 'object') return [];
  if ((value as Any).kind === 'filesystem') return [`${path} (dir ${(value as Any).dir})`];
  return Object.entries(value).flatMap(([k, v]) => filesystemStorage(v, path ? `${path}.${k}` : k));
}

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
      // The root filesystem is read-only and a pod's disk dies with it: files go to a bucket, never a folder.
      expect(filesystemStorage(config), `${name}: storage`).toEqual([]);
    },
  );

  // Evaluated as amazon-network-policy-controller-k8s resolves the policies (deploy/test/network.ts): the caller's
  // egress must reach the callee Service's ClusterIP (a peer selector matching the Service's selector), and the
  // callee's ingress must admit the caller's pod on the target port.
  it('when a service calls another through its configured URL, then the VPC CNI’s policies admit the call both ways', () => {
    const cluster = modelCluster(objects);
    const denied: string[] = [];
    for (const { name, raw } of registered) {
      const caller = cluster.pods.find((p) => p.owner === `Deployment/${name}`)!;
      const dns = cluster.services.find((s) => s.name === 'kube-dns')!;
      if (!egressAllowed(cluster, caller, { ip: dns.clusterIP, port: 53, protocol: 'UDP' }))
        denied.push(`${name} → DNS`);
      for (const callee of services[name]!.definition.dependsOn) {
        const url = new URL(raw.services[callee]);
        const service = cluster.services.find((s) => s.name === url.hostname && s.namespace === caller.namespace);
        const problem = service
          ? serviceCallAllowed(cluster, caller, service, Number(url.port || 80))
          : `no Service ${url.hostname}`;
        if (problem) denied.push(`${name} → ${callee}: ${problem}`);
      }
    }
    expect(denied).toEqual([]);
  });
});
