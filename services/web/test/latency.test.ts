import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { authService } from '@livehouse/auth';
import { bffService } from '@livehouse/bff';
import { chatService } from '@livehouse/chat';
import { contentsService } from '@livehouse/contents';
import { edgeService } from '@livehouse/edge';
import { ingestService } from '@livehouse/ingest';
import { type Platform, startPlatform } from '@livehouse/kit';
import { publicApi, startTestPlatform, type TestPlatform } from '@livehouse/kit/testing';
import { freePort } from '@livehouse/kit/testing/ports';
import { paymentService } from '@livehouse/payment';
import { pointService } from '@livehouse/point';
import { stampService } from '@livehouse/stamp';
import { thumbnailService } from '@livehouse/thumbnail';
import { timelineService } from '@livehouse/timeline';
import { userService } from '@livehouse/user';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { webService } from '../src/index.ts';

const ARTIFACTS = join(import.meta.dirname, '..', 'test-artifacts');
const CHROMIUM = process.env.LIVEHOUSE_CHROMIUM ?? '/usr/bin/chromium';
const SAMPLE_SECONDS = 30;

/**
 * Live latency as a viewer sees it: ffmpeg publishes a test pattern over RTMP to ingest, the edge serves its LL-HLS,
 * the BFF's stream view carries the edge's playlist, and the stream page plays it in Chromium. hls.js's distance to
 * the live edge (`hls.latency`) must stay within 4 s over 30 s of playback while the video advances.
 */
describe('live latency on the stream page', () => {
  let dir: string;
  let backends: TestPlatform;
  let front: Platform;
  let ffmpeg: ChildProcess | undefined;
  let rtmpPort: number;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lh-web-latency-'));
    await mkdir(ARTIFACTS, { recursive: true });
    rtmpPort = await freePort();
    const bffPort = await freePort();
    backends = await startTestPlatform(
      [
        userService,
        authService,
        contentsService,
        pointService,
        paymentService,
        stampService,
        timelineService,
        chatService,
        thumbnailService,
        ingestService,
        edgeService,
      ],
      'pglite',
      {
        bffPort,
        config: (name) => ({
          ...(name === 'thumbnail' && { thumbnail: { storage: { kind: 'filesystem', dir: join(dir, 'thumbs') } } }),
          // Passthrough (no ladder to encode): the latency is the media plane's, not a loaded machine's x264.
          ...(name === 'ingest' && {
            ingest: {
              rtmp: { port: rtmpPort },
              workDir: join(dir, 'work'),
              storage: { kind: 'filesystem', dir: join(dir, 'media') },
              transcodeSlots: 0,
              thumbnailIntervalMs: 0,
              drainMs: 500,
            },
          }),
        }),
      },
    );
    // The BFF (with the edge, an optional backend it is told about) and the web, on the same database and secrets.
    const backendNames = ['user', 'auth', 'contents', 'point', 'payment', 'stamp', 'timeline', 'chat', 'edge'];
    front = await startPlatform([bffService, webService], {
      backend: backends.backend.backend,
      env: backends.secrets,
      schemaPrefix: backends.backend.schemaPrefix,
      ports: (name) => ({ port: name === 'bff' ? bffPort : 0, adminPort: 0 }),
      config: (name) => ({
        log: { level: process.env.LIVEHOUSE_TEST_LOG ?? 'silent' },
        ...(name === 'bff' && {
          services: Object.fromEntries(backendNames.map((n) => [n, backends.url(n)])),
          bff: { requestBudgetMs: 5000, timeoutScale: 10, commandTimeoutMs: 60_000 },
        }),
      }),
    });
  }, 120_000);

  afterAll(async () => {
    if (ffmpeg && ffmpeg.exitCode === null) ffmpeg.kill('SIGKILL');
    await front?.close();
    await backends?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('when ffmpeg publishes through ingest and the edge, then hls.latency stays within 4 s over 30 s of playback', async () => {
    const api = publicApi(`${front.url('bff')}/web/v1`);
    const signup = await api('POST', '/auth/signup', {
      body: { handle: 'latency_streamer', email: 'latency@example.com', password: 'long-enough-secret' },
    });
    const channel = await api('POST', '/me/channel', {
      token: signup.body.tokens.accessToken,
      body: { title: 'Live' },
    });
    expect(channel.status).toBe(201);
    ffmpeg = spawn(
      'ffmpeg',
      [
        ...['-hide_banner', '-loglevel', 'error', '-re'],
        ...['-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30'],
        ...['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000'],
        ...['-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '30', '-pix_fmt', 'yuv420p'],
        ...['-c:a', 'aac', '-b:a', '64k', '-f', 'flv', `rtmp://127.0.0.1:${rtmpPort}/live/${channel.body.streamKey}`],
      ],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    // Ingest puts the channel live on publish.
    let streamId: string | null = null;
    for (let i = 0; i < 600 && !streamId; i++) {
      const c = await backends.call('contents', 'GET', `/channels/${channel.body.channel.id}`);
      streamId = c.body.liveStreamId ?? null;
      if (!streamId) await new Promise((r) => setTimeout(r, 100));
    }
    expect(streamId).not.toBeNull();
    // The view carries the edge's playlist once the edge has one.
    await expect
      .poll(async () => (await api('GET', `/streams/${streamId}`)).body.playback?.live ?? null, { timeout: 30_000 })
      .toMatch(/^http:\/\/127\.0\.0\.1:\d+\//);

    const profile = await mkdtemp(join(tmpdir(), 'lh-web-chromium-'));
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1280, height: 720 },
      args: [
        ...['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run'],
        ...['--disable-background-networking', '--disable-component-update', '--disable-sync'],
        '--autoplay-policy=no-user-gesture-required',
      ],
    });
    try {
      const page = await context.newPage();
      await page.goto(`${front.url('web')}/streams/${streamId}`);
      const video = page.locator('[data-testid=video]');
      await video.waitFor({ timeout: 30_000 });
      // The player keeps its hls.js instance on the element (lhHls); browser code as a string (no DOM types here).
      const sample = () =>
        page.evaluate<{ t: number; latency: number | null }>(`(() => {
          const v = document.querySelector('[data-testid=video]');
          const l = v && v.lhHls ? v.lhHls.latency : null;
          return { t: v ? v.currentTime : 0, latency: typeof l === 'number' && Number.isFinite(l) ? l : null };
        })()`);
      // Once playing and at the live edge (hls.js reads its first playlists and fills the buffer first),
      // 30 s of samples.
      await expect.poll(async () => (await sample()).t, { timeout: 30_000 }).toBeGreaterThan(0.5);
      await expect.poll(async () => (await sample()).latency ?? 99, { timeout: 20_000 }).toBeLessThanOrEqual(4);
      const samples: { t: number; latency: number | null }[] = [];
      for (let i = 0; i <= SAMPLE_SECONDS; i++) {
        samples.push(await sample());
        if (i < SAMPLE_SECONDS) await page.waitForTimeout(1000);
      }
      await page.screenshot({ path: join(ARTIFACTS, '07-stream-live-latency.png') });
      const latencies = samples.map((s) => s.latency);
      console.log(
        `web latency (load ${loadavg()[0]?.toFixed(1)}): hls.latency over ${SAMPLE_SECONDS} s: ${latencies.map((l) => l?.toFixed(2)).join(' ')}`,
      );
      expect(latencies.every((l) => l !== null && l <= 4)).toBe(true);
      // The video advanced the whole time, about as fast as the clock.
      for (let i = 5; i < samples.length; i += 5) {
        expect(samples[i]?.t ?? 0).toBeGreaterThan(samples[i - 5]?.t ?? 0);
      }
      expect((samples.at(-1)?.t ?? 0) - (samples[0]?.t ?? 0)).toBeGreaterThan(SAMPLE_SECONDS * 0.8);
    } finally {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    }
  }, 180_000);
});
