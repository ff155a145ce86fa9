import { randomBytes } from 'node:crypto';
import { type BuiltService, buildService, generateDevSecrets, parseConfig } from '@livehouse/kit';
import { openTestBackend, redisUrl, type TestBackend } from '@livehouse/kit/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { services } from '../../packages/cli/src/services.ts';
import { type K8sObject, ofKind, render } from './manifests.ts';

// biome-ignore lint/suspicious/noExplicitAny: manifests are read field by field
type Any = any;

/** Each livehouse Deployment of the overlay with its ConfigMap's YAML and the names of its pod's env variables. */
function deploymentsOf(objects: K8sObject[]) {
  return ofKind(objects, 'Deployment')
    .filter((d) => d.metadata.labels?.['app.kubernetes.io/part-of'] === 'livehouse')
    .map((d) => {
      const pod = d.spec.template.spec;
      const volume = pod.volumes.find((v: Any) => v.name === 'config');
      const configMap = ofKind(objects, 'ConfigMap').find((m) => m.metadata.name === volume?.configMap?.name);
      return {
        name: d.metadata.name as string,
        raw: parseYaml(configMap?.data['application.yaml'] ?? '{}'),
        envNames: (pod.containers[0].env ?? []).map((e: Any) => e.name as string),
      };
    });
}

// Issue 13 item 7: N pods must share one limit. Every service the prod overlay configures with redis.url is built
// from its rendered config (the Redis secret pointed at the test Redis), and its kit limiter must write to Redis.
describe.skipIf(!redisUrl)('the rendered prod config: every service with redis.url uses the shared limiter', () => {
  const deployments = deploymentsOf(render('deploy/k8s/overlays/prod')).filter((d) => services[d.name]);
  let backend: TestBackend;
  let redis: Redis;
  beforeAll(async () => {
    backend = await openTestBackend('pglite');
    redis = new Redis(redisUrl as string);
  });
  afterAll(async () => {
    await redis?.quit();
    await backend?.close();
  });

  it('when the overlay is rendered, then every livehouse service gets redis.url from its pod', () => {
    expect(deployments.filter((d) => !d.envNames.includes('LIVEHOUSE_REDIS_URL')).map((d) => d.name)).toEqual([]);
  });

  it.each(deployments.map((d) => [d.name, d] as const))(
    'when %s starts from its rendered config, then its limiter counts in Redis',
    async (name, { raw, envNames }) => {
      const definition = services[name]?.definition;
      if (!definition) throw new Error(`no definition for ${name}`);
      const testValues: Record<string, string> = {
        LIVEHOUSE_INTERNAL_KEY: randomBytes(32).toString('hex'),
        LIVEHOUSE_DATABASE_URL: 'postgres://livehouse@db:5432/livehouse',
        LIVEHOUSE_REDIS_URL: redisUrl as string,
        LIVEHOUSE_AUTH_SIGNING_KEY: generateDevSecrets().LIVEHOUSE_AUTH_SIGNING_KEY as string,
        // The ExternalSecret's keys in a pod; never used here (the provider is never called).
        LIVEHOUSE_STRIPE_API_KEY: 'sk_test_wiring_only',
        LIVEHOUSE_STRIPE_WEBHOOK_SECRET: 'whsec_wiring_only',
      };
      const env = Object.fromEntries(envNames.flatMap((n: string) => (testValues[n] ? [[n, testValues[n]]] : [])));
      // A prefix of this run's own, so that no key (limits, event streams) is shared with another run.
      const keyPrefix = `t${randomBytes(4).toString('hex')}:`;
      const config = parseConfig({ ...raw, redis: { ...raw.redis, keyPrefix } }, definition.config, {
        source: name,
        env,
      });
      expect(config.redis?.url, `${name}: redis.url`).toBe(redisUrl);
      const media = (config as { ingest?: { rtmp?: object } }).ingest;
      // Local stand-ins for what the cluster gives: the test database, free ports, unreachable peers.
      const local = {
        ...config,
        http: { ...config.http, host: '127.0.0.1', port: 0, adminPort: 0 },
        ...(config.database && {
          database: {
            ...config.database,
            url: 'shared://',
            schema: `${backend.schemaPrefix}${name}`,
            migrateOnStart: true,
          },
        }),
        services: Object.fromEntries(Object.keys(config.services).map((s) => [s, 'http://127.0.0.1:9'])),
        log: { level: 'silent' },
        // ingest's RTMP listener: a free loopback port instead of the pod's 0.0.0.0:1935.
        ...(media?.rtmp && { ingest: { ...media, rtmp: { ...media.rtmp, host: '127.0.0.1', port: 0 } } }),
      } as typeof config;
      let built: BuiltService | undefined;
      try {
        built = await buildService(definition, local, { backend: backend.backend });
        const key = `probe:${randomBytes(6).toString('hex')}`;
        await built.api.limiter('livehouse:wiring:').hit(key, { max: 5, windowMs: 60_000 });
        expect(await redis.get(`${keyPrefix}livehouse:wiring:${key}`)).toBe('1');
      } finally {
        await built?.close();
      }
    },
  );
});
