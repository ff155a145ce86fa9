import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { chmodSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InternalAuth } from '@livehouse/kit';
import { FakeS3 } from '@livehouse/kit/testing/fake-s3';
import { freePort } from '@livehouse/kit/testing/ports';
import pg from 'pg';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { parse as parseYaml, stringify } from 'yaml';
import { type K8sObject, render } from './manifests.ts';
import { podUser, type Running, readOnlyApp, runContainer, waitFor200 } from './pod.ts';

// biome-ignore lint/suspicious/noExplicitAny: manifests are read field by field
type Any = any;

/**
 * The rendered prod thumbnail Deployment, started the way EKS starts it: its init container and then its container,
 * with the ConfigMap's file, as uid 1000 in a working directory it cannot write (the read-only /app), with the
 * environment EKS Pod Identity injects. Outside the process everything is local: PostgreSQL (a database of its own,
 * since prod's `--workers auto` needs a server), a private redis-server, a fake Pod Identity agent, and an S3 fake that checks every SigV4 signature and the session
 * token (deploy/test cannot reach AWS). contents runs from its own rendered prod Deployment, since thumbnail asks it
 * about the stream. What the test changes in the files: ports, the callee's URL and the S3 endpoint (the fake, path
 * style) — nothing else.
 */
const tmp = mkdtempSync(join(tmpdir(), 'livehouse-serve-thumbnail-'));
chmodSync(tmp, 0o755);
const app = readOnlyApp();
const running: Running[] = [];
const servers: { close: () => unknown }[] = [];
let redis: ChildProcess | undefined;
afterAll(async () => {
  for (const r of running) if (r.child.exitCode === null) r.child.kill('SIGKILL');
  redis?.kill('SIGKILL');
  for (const s of servers) await s.close();
  rmSync(tmp, { recursive: true, force: true });
  chmodSync(app, 0o755);
  rmSync(app, { recursive: true, force: true });
});

const postgresUrl = inject('postgresUrl');
const database = `livehouse_deploy_${randomBytes(6).toString('hex')}`;
async function admin(sql: string) {
  const client = new pg.Client({ connectionString: postgresUrl ?? '' });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
afterAll(async () => {
  if (postgresUrl) await admin(`drop database if exists ${database} with (force)`);
});

async function startRedis() {
  const port = await freePort();
  redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const probe = spawn('redis-cli', ['-p', String(port), 'ping'], { stdio: ['ignore', 'pipe', 'ignore'] });
      let out = '';
      probe.stdout.on('data', (d) => {
        out += d;
      });
      probe.once('exit', () => resolve(out.trim() === 'PONG'));
    });
    if (ok) return `redis://127.0.0.1:${port}`;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('redis-server did not start');
}

/** The fake EKS Pod Identity agent: temporary credentials for the projected token, nothing for anything else. */
async function startPodIdentityAgent(token: string, credentials: Record<string, string>) {
  const calls: (string | undefined)[] = [];
  const server: Server = createServer((req, res) => {
    calls.push(req.headers.authorization);
    if (req.headers.authorization !== token) return res.writeHead(403).end();
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ ...credentials, Expiration: new Date(Date.now() + 3600_000).toISOString() }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push({ close: () => new Promise((resolve) => server.close(resolve)) });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/credentials`, calls };
}

interface Pod {
  deployment: K8sObject;
  config: Any;
  port: number;
  adminPort: number;
  configFile: string;
  env: NodeJS.ProcessEnv;
}

describe.skipIf(!postgresUrl)(
  'the rendered prod Deployment of thumbnail, on a read-only root with Pod Identity credentials',
  () => {
    const prod = render('deploy/k8s/overlays/prod');
    const deploymentOf = (name: string) =>
      prod.find((o) => o.kind === 'Deployment' && o.metadata.name === name) as K8sObject;
    const configOf = (d: K8sObject) => {
      const volume = d.spec.template.spec.volumes.find((v: Any) => v.name === 'config');
      const map = prod.find((o) => o.kind === 'ConfigMap' && o.metadata.name === volume.configMap.name) as K8sObject;
      return parseYaml(map.data['application.yaml']);
    };

    it('when a thumbnail is generated, then it is stored in S3 with the pod’s temporary credentials and nothing is written under /app', async () => {
      const internalKey = randomBytes(32).toString('hex');
      await admin(`create database ${database}`);
      const databaseUrl = Object.assign(new URL(postgresUrl ?? ''), { pathname: `/${database}` }).href;
      const redisUrl = await startRedis();
      const podIdentityToken = `pod-identity-${randomUUID()}`;
      const temporary = {
        AccessKeyId: 'ASIATHUMBNAILPOD',
        SecretAccessKey: randomBytes(20).toString('base64'),
        Token: `session-${randomUUID()}`,
      };
      const agent = await startPodIdentityAgent(podIdentityToken, temporary);
      const tokenFile = join(tmp, 'eks-pod-identity-token');
      writeFileSync(tokenFile, podIdentityToken, { mode: 0o644 });

      const thumbnailConfig = configOf(deploymentOf('thumbnail'));
      const storage = thumbnailConfig.thumbnail?.storage;
      expect(storage?.kind, 'the prod overlay must keep thumbnails in S3').toBe('s3');
      const s3 = await new FakeS3({
        bucket: storage.bucket,
        region: storage.region,
        accessKeyId: temporary.AccessKeyId,
        secretAccessKey: temporary.SecretAccessKey,
        sessionToken: temporary.Token,
      }).start();
      servers.push(s3);

      // Per service: the config with free ports, its env from the manifest (Secrets → test values), its processes.
      const pods = new Map<string, Pod>();
      for (const name of ['contents', 'thumbnail']) {
        const deployment = deploymentOf(name);
        const config = configOf(deployment);
        const port = await freePort();
        const adminPort = await freePort();
        config.http = { ...config.http, host: '127.0.0.1', port, adminPort };
        const secretFor = (variable: string) => {
          switch (variable) {
            case 'LIVEHOUSE_INTERNAL_KEY':
              return internalKey;
            case 'LIVEHOUSE_DATABASE_URL':
              return databaseUrl;
            case 'LIVEHOUSE_REDIS_URL':
              return redisUrl;
            default:
              throw new Error(`no test value for ${name}'s environment variable ${variable}`);
          }
        };
        const env = Object.fromEntries(
          (deployment.spec.template.spec.containers[0].env ?? []).map((e: Any) => [
            e.name,
            e.value ?? secretFor(e.name),
          ]),
        );
        pods.set(name, { deployment, config, port, adminPort, configFile: join(tmp, `${name}.yaml`), env });
      }
      const contents = pods.get('contents')!;
      const thumbnail = pods.get('thumbnail')!;
      const thumbConfig = thumbnail.config;
      thumbConfig.services.contents = `http://127.0.0.1:${contents.port}`;
      thumbConfig.thumbnail.storage = { ...thumbConfig.thumbnail.storage, endpoint: s3.url, forcePathStyle: true };
      // What the EKS Pod Identity webhook adds to a pod whose service account has an association.
      thumbnail.env = {
        ...thumbnail.env,
        AWS_CONTAINER_CREDENTIALS_FULL_URI: agent.url,
        AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: tokenFile,
        HOME: app,
      };
      for (const pod of pods.values()) writeFileSync(pod.configFile, stringify(pod.config), { mode: 0o644 });

      const start = (pod: Pod, container: Any, env: NodeJS.ProcessEnv) => {
        const r = runContainer(container, env, pod.configFile, { cwd: app, user: podUser });
        running.push(r);
        return r;
      };
      // Init containers (migrate), then the services, as the kubelet orders them; both pods at once.
      const inits = [...pods.values()].map((pod) => {
        const migrate = pod.deployment.spec.template.spec.initContainers.find((c: Any) => c.name === 'migrate');
        const env = Object.fromEntries((migrate.env ?? []).map((e: Any) => [e.name, pod.env[e.name]]));
        return start(pod, migrate, env);
      });
      for (const init of inits) expect(await init.exited, init.output()).toBe(0);
      const services = new Map(
        [...pods].map(([name, pod]) => [name, start(pod, pod.deployment.spec.template.spec.containers[0], pod.env)]),
      );
      const outputs = () => [...services].map(([n, s]) => `--- ${n} ---\n${s.output()}`).join('\n');
      try {
        for (const [name, pod] of pods) {
          const service = services.get(name)!;
          const probe = pod.deployment.spec.template.spec.containers[0].readinessProbe.httpGet.path;
          await waitFor200(`http://127.0.0.1:${pod.adminPort}${probe}`, 120_000, () => service.child.exitCode === null);
        }

        const auth = new InternalAuth(internalKey);
        const owner = { id: randomUUID(), roles: ['streamer' as const] };
        const call = async (pod: { port: number }, method: string, path: string, body?: unknown) => {
          const token = await auth.sign({ service: 'bff', user: owner });
          const res = await fetch(`http://127.0.0.1:${pod.port}${path}`, {
            method,
            headers: {
              authorization: `Bearer ${token}`,
              ...(body !== undefined && { 'content-type': 'application/json' }),
            },
            ...(body !== undefined && { body: JSON.stringify(body) }),
          });
          return { status: res.status, body: Buffer.from(await res.arrayBuffer()) };
        };
        const json = (r: { body: Buffer }) => JSON.parse(r.body.toString()) as Any;
        const channel = await call(contents, 'POST', '/channels', { title: 'Read-only root' });
        expect(channel.status, channel.body.toString()).toBe(201);
        const stream = await call(contents, 'POST', `/channels/${json(channel).channel.id}/streams`, {
          title: '配信テスト Live',
        });
        expect(stream.status, stream.body.toString()).toBe(201);
        const streamId = json(stream).id as string;

        const generated = await call(thumbnail, 'POST', `/streams/${streamId}/thumbnails`, {});
        expect(generated.status, generated.body.toString()).toBe(200);
        const items = json(generated).items as { url: string; format: string }[];
        expect(items.length).toBeGreaterThan(0);

        // In the bucket, under the stream, each object signed with the pod's temporary credentials and session token.
        const keys = [...s3.objects.keys()].filter((k) => k.startsWith(`streams/${streamId}/`));
        expect(keys).toHaveLength(items.length);
        expect(s3.requests.filter((r) => r.status === 403)).toEqual([]);
        expect(agent.calls.length).toBeGreaterThan(0);
        expect(agent.calls.every((c) => c === podIdentityToken)).toBe(true);
        // …and served back from there.
        const file = await call(thumbnail, 'GET', items[0]!.url);
        expect(file.status).toBe(200);
        expect(
          [...s3.objects.values()].some((o) => Buffer.compare(o.body, file.body) === 0),
          'the served file is the stored object',
        ).toBe(true);
        // Nothing was (or could have been) written where the image's files are.
        expect(readdirSync(app).sort()).toEqual(['node_modules', 'package.json', 'packages', 'services']);
      } catch (err) {
        throw new Error(`${(err as Error).message}\n${outputs()}`);
      }
      for (const service of services.values()) service.child.kill('SIGTERM');
      for (const [name, service] of services) expect(await service.exited, `${name}\n${service.output()}`).toBe(0);
    }, 240_000);
  },
);
