import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '@livehouse/kit/testing/ports';
import { afterAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify } from 'yaml';
import { type K8sObject, render } from './manifests.ts';
import { type Running, runContainer as run, waitFor200 } from './pod.ts';

// biome-ignore lint/suspicious/noExplicitAny: manifests are read field by field
type Any = any;

const tmp = mkdtempSync(join(tmpdir(), 'livehouse-serve-'));
const children: Running[] = [];
const runContainer = (container: Any, env: NodeJS.ProcessEnv, configFile: string) => {
  const r = run(container, env, configFile);
  children.push(r);
  return r;
};
afterAll(() => {
  for (const c of children) if (c.child.exitCode === null) c.child.kill('SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
});

/** Test values for the secrets a pod gets from Kubernetes Secrets; an unknown one fails the test. */
function secretFor(name: string) {
  switch (name) {
    case 'LIVEHOUSE_INTERNAL_KEY':
      return randomBytes(32).toString('hex');
    case 'LIVEHOUSE_DATABASE_URL':
      return join(tmp, 'pgdata'); // embedded PostgreSQL (PGlite) in a folder: shared by migrate, then serve
    case 'LIVEHOUSE_REDIS_URL':
      return 'redis://127.0.0.1:6379';
    default:
      throw new Error(`no test value for the pod's environment variable ${name}`);
  }
}

describe('the rendered dev Deployment of user, run as the image runs it', () => {
  const dev = render('deploy/k8s/overlays/dev');
  const deployment = dev.find((o) => o.kind === 'Deployment' && o.metadata.name === 'user') as K8sObject;
  const pod = deployment.spec.template.spec;
  const app = pod.containers.find((c: Any) => c.name === 'app');
  const migrate = pod.initContainers?.find((c: Any) => c.name === 'migrate');
  const configVolume = pod.volumes.find((v: Any) => v.name === 'config');
  const configMap = dev.find((o) => o.kind === 'ConfigMap' && o.metadata.name === configVolume.configMap.name)!;
  const portOf = (name: string | number) =>
    typeof name === 'number' ? name : (app.ports.find((p: Any) => p.name === name).containerPort as number);

  it('when the init container and then the service container are started with the manifest’s command, args, config and ports, then the probes answer and SIGTERM drains to exit 0', async () => {
    // The config file: exactly the ConfigMap's application.yaml; only the ports are swapped for free ones
    // (the container's own ports, 8080 and 9090, may be taken on a developer's machine).
    const config = parseYaml(configMap.data['application.yaml']);
    expect(config.http.port).toBe(portOf('http'));
    expect(config.http.adminPort).toBe(portOf('admin'));
    const swapped = new Map([
      [portOf('http'), await freePort()],
      [portOf('admin'), await freePort()],
    ]);
    config.http.host = '127.0.0.1';
    config.http.port = swapped.get(portOf('http'));
    config.http.adminPort = swapped.get(portOf('admin'));
    const configFile = join(tmp, 'application.yaml');
    writeFileSync(configFile, stringify(config));
    const envOf = (c: Any) => Object.fromEntries((c.env ?? []).map((e: Any) => [e.name, e.value ?? secretFor(e.name)]));

    // initContainer: `livehouse migrate user`.
    expect(migrate.args.slice(0, 2)).toEqual(['migrate', 'user']);
    const init = runContainer(migrate, envOf(migrate), configFile);
    expect(await init.exited, init.output()).toBe(0);

    // The service container, probed the way the kubelet probes it.
    const env = envOf(app);
    expect(env.LIVEHOUSE_DATABASE_URL).toBe(envOf(migrate).LIVEHOUSE_DATABASE_URL);
    const service = runContainer(app, env, configFile);
    const alive = () => service.child.exitCode === null;
    const probeUrl = (probe: Any) => `http://127.0.0.1:${swapped.get(portOf(probe.httpGet.port))}${probe.httpGet.path}`;
    try {
      await waitFor200(probeUrl(app.startupProbe), 90_000, alive);
      await waitFor200(probeUrl(app.livenessProbe), 5_000, alive);
      const ready = await waitFor200(probeUrl(app.readinessProbe), 10_000, alive);
      expect(await ready.json()).toMatchObject({ status: 'ready' });
      // The API port answers too, and refuses a call without an internal token.
      const api = await fetch(`http://127.0.0.1:${swapped.get(portOf('http'))}/users/u1`);
      expect(api.status).toBe(401);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- service output ---\n${service.output()}`);
    }

    service.child.kill('SIGTERM');
    expect(await service.exited, service.output()).toBe(0);
  }, 150_000);
});
