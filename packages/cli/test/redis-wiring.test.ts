import { randomBytes } from 'node:crypto';
import { authService } from '@livehouse/auth';
import { auth } from '@livehouse/contracts';
import { redisUrl, startTestPlatform, type TestPlatform } from '@livehouse/kit/testing';
import { userService } from '@livehouse/user';
import { describe, expect, it } from 'vitest';
import { services } from '../src/services.ts';
import { freePort, livehouse, type Spawned, waitFor, writeConfig } from './process.ts';

const env = { LIVEHOUSE_INTERNAL_KEY: 'an-internal-key-for-tests-only-0123456789' };
// Every backend the BFF calls needs a URL, or `serve bff` refuses its config.
const backends = [...(services.bff?.definition.dependsOn ?? [])];

// Limits that must hold across pods live in Redis: a service with `redis.url` gets the shared limiter from the
// kit by construction, whether `livehouse serve` runs it alone or `livehouse up` (startPlatform) with others.
describe.skipIf(!redisUrl)('a service configured with redis.url shares its limits through Redis', () => {
  it('when two `livehouse serve bff` processes share redis.url, then one per-IP limit holds across both', async () => {
    const keyPrefix = `t${randomBytes(4).toString('hex')}:`;
    const runs: { run: Spawned; port: number; adminPort: number }[] = [];
    try {
      for (let i = 0; i < 2; i++) {
        const [port, adminPort] = [await freePort(), await freePort()];
        const { file } = writeConfig(
          [
            `http: { host: 127.0.0.1, port: ${port}, adminPort: ${adminPort} }`,
            `redis: { url: '${redisUrl}', keyPrefix: '${keyPrefix}' }`,
            // Backends are never reached: the limit is checked before any call.
            `services: { ${backends.map((b) => `${b}: 'http://127.0.0.1:9'`).join(', ')} }`,
            'bff: { docs: false, rateLimit: { perIp: { max: 4, windowMs: 600000 } } }',
            'log: { level: warn }',
          ].join('\n'),
        );
        runs.push({ run: livehouse(['serve', 'bff', '--config', file], env), port, adminPort });
      }
      // Both start at once; a loaded 2-core machine may take most of a minute.
      await Promise.all(runs.map((r) => waitFor(`http://127.0.0.1:${r.adminPort}/readyz`, 90_000)));
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++) {
        const { port } = runs[i % 2] as { port: number };
        statuses.push((await fetch(`http://127.0.0.1:${port}/web/v1/me`)).status);
      }
      // Four answers in all (401: no token), then both processes refuse: the count is one, in Redis.
      expect(statuses).toEqual([401, 401, 401, 401, 429, 429]);
    } finally {
      for (const { run } of runs) run.child.kill('SIGKILL');
    }
  }, 120_000);

  it('when two platforms (what `livehouse up` starts) share redis.url, then auth’s login limit per IP holds across both', async () => {
    const keyPrefix = `t${randomBytes(4).toString('hex')}:`;
    const platforms: TestPlatform[] = [];
    try {
      for (let i = 0; i < 2; i++) {
        platforms.push(
          await startTestPlatform([userService, authService], 'pglite', {
            config: (name) => ({
              redis: { url: redisUrl, keyPrefix },
              ...(name === 'auth' && { auth: { loginRateLimit: { perIp: { max: 3, windowMs: 600_000 } } } }),
            }),
          }),
        );
      }
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) {
        const platform = platforms[i % 2] as TestPlatform;
        const res = await platform.call('auth', 'POST', '/sessions', {
          body: { login: `nobody${i}`, password: 'not-the-password' },
          headers: { [auth.CLIENT_IP_HEADER]: '203.0.113.7' },
        });
        statuses.push(res.status);
      }
      expect(statuses).toEqual([401, 401, 401, 429, 429]);
    } finally {
      for (const p of platforms) await p.close();
    }
  }, 120_000);
});
