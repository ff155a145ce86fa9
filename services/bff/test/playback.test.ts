import { edgeService } from '@livehouse/edge';
import { type Platform, startPlatform } from '@livehouse/kit';
import { dbKinds, startTestPlatform, type TestPlatform } from '@livehouse/kit/testing';
import { freePort } from '@livehouse/kit/testing/ports';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bffService } from '../src/index.ts';
import { assertContractHeld, contractChecked } from './contract-check.ts';
import { backendDefinitions, buildWorld, publicApi, type World } from './helpers.ts';

/**
 * The stream view when the media plane is down. `startBff` cannot set `services.edge` (a service's
 * `services` override replaces the URLs the platform wires), so the backends run in one platform and
 * each BFF in its own, on the same database and secrets, with `services` written out in full.
 */
describe.each(dbKinds)('bff playback when the media plane is down, on %s', (kind) => {
  let backends: TestPlatform;
  const bffs: Platform[] = [];
  let w: World;
  const api = { none: {}, deadEdge: {}, deadIngest: {} } as Record<
    'none' | 'deadEdge' | 'deadIngest',
    { app?: ReturnType<typeof publicApi>; web?: ReturnType<typeof publicApi> }
  >;

  async function startBffWith(edge: string | undefined, port = 0) {
    const services = Object.fromEntries(backendDefinitions.map((d) => [d.name, backends.url(d.name)]));
    const bff = await startPlatform([contractChecked(bffService)], {
      ports: () => ({ port, adminPort: 0 }),
      backend: backends.backend.backend,
      env: backends.secrets,
      schemaPrefix: backends.backend.schemaPrefix,
      config: () => ({
        log: { level: process.env.LIVEHOUSE_TEST_LOG ?? 'silent' },
        services: { ...services, ...(edge && { edge }) },
        // Composition, not timing, is checked here (as in startBff): CI's two cores are shared.
        bff: { requestBudgetMs: 10_000, timeoutScale: 20, commandTimeoutMs: 60_000 },
      }),
    });
    bffs.push(bff);
    return bff;
  }

  beforeAll(async () => {
    // A running edge whose origin (ingest) is a port where nothing listens.
    const deadIngest = `http://127.0.0.1:${await freePort()}`;
    // The world buys points through checkout: the embedded provider's webhooks go to the first BFF.
    const nonePort = await freePort();
    backends = await startTestPlatform([...backendDefinitions, edgeService], kind, {
      bffPort: nonePort,
      config: (name) => (name === 'edge' ? { services: { ingest: deadIngest } } : {}),
    });
    const none = await startBffWith(undefined, nonePort);
    w = await buildWorld({ ...backends, url: (name) => (name === 'bff' ? none.url('bff') : backends.url(name)) });
    const ends = {
      none,
      deadEdge: await startBffWith(`http://127.0.0.1:${await freePort()}`),
      deadIngest: await startBffWith(backends.url('edge')),
    };
    for (const [key, bff] of Object.entries(ends) as [keyof typeof api, Platform][]) {
      api[key] = { app: publicApi(`${bff.url('bff')}/app/v1`), web: publicApi(`${bff.url('bff')}/web/v1`) };
    }
  });
  afterAll(async () => {
    for (const bff of bffs) await bff.close();
    await backends?.close();
    assertContractHeld();
  });

  const openStream = async (which: keyof typeof api) => {
    const { app, web } = api[which];
    if (!app || !web) throw new Error(`no BFF for ${which}`);
    const a = await app('GET', `/streams/${w.streamId}`, { token: w.viewer.token });
    const b = await web('GET', `/streams/${w.streamId}`, { token: w.viewer.token });
    return [a, b];
  };

  it.each([
    ['the edge is down', 'deadEdge'],
    ['the edge runs but its ingest is down', 'deadIngest'],
  ] as const)('when %s, then the stream view answers 200 with playback degraded and null URLs', async (_, which) => {
    for (const res of await openStream(which)) {
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body.meta.degraded).toContain('playback');
      expect(res.body.playback).toEqual({ live: null, vod: null });
      // Everything else still composes.
      expect(res.body.stream.id).toBe(w.streamId);
      expect(res.body.meta.degraded).toEqual(['playback']);
    }
  });

  it('when the BFF has no media plane configured, then playback is null but not degraded', async () => {
    for (const res of await openStream('none')) {
      expect(res.status).toBe(200);
      expect(res.body.meta.degraded).toEqual([]);
      expect(res.body.playback).toEqual({ live: null, vod: null });
    }
  });
});
