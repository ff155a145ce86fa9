import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { contentsService } from '@livehouse/contents';
import { edgeService } from '@livehouse/edge';
import { generateDevSecrets, InternalAuth, type Platform, startPlatform } from '@livehouse/kit';
import { dbKinds, openTestBackend, type TestBackend, type TestBody } from '@livehouse/kit/testing';
import { freePort } from '@livehouse/kit/testing/ports';
import { thumbnailService } from '@livehouse/thumbnail';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { filesUnder, get, kill, listedSegments, newStreamer, publish, testLadder, waitFor } from './helpers.ts';

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '../../..');

/**
 * Crash recovery: `livehouse serve ingest` is SIGKILLed mid-stream (no drain, no stop hook), then
 * started again on the same work folder, storage and database. contents and the edge run in this
 * process and outlive it, as the other pods would.
 */
describe.skipIf(!dbKinds.includes('postgres'))('ingest killed mid-stream (SIGKILL) on postgres', () => {
  const secrets = generateDevSecrets();
  const auth = new InternalAuth(secrets.LIVEHOUSE_INTERNAL_KEY as string);
  let backend: TestBackend;
  let platform: Platform;
  let dir: string;
  let writeConfig: (name: string, overrides: Record<string, unknown>) => Promise<string>;
  let rtmpUrl: string;
  let admin: string;
  let workDir: string;
  let child: ChildProcess | undefined;
  const logs: string[] = [];

  async function start(configFile: string) {
    const proc = spawn(process.execPath, ['packages/cli/src/main.ts', 'serve', 'ingest', '--config', configFile], {
      cwd: root,
      env: { PATH: process.env.PATH, LIVEHOUSE_INTERNAL_KEY: secrets.LIVEHOUSE_INTERNAL_KEY },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    proc.stdout?.setEncoding('utf8').on('data', (d: string) => logs.push(...d.split('\n').filter(Boolean)));
    proc.stderr?.on('data', (d) => {
      stderr += d;
    });
    child = proc;
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      if (proc.exitCode !== null) throw new Error(`ingest exited with ${proc.exitCode}: ${stderr}`);
      const ready = await fetch(`${admin}/readyz`).catch(() => undefined);
      if (ready?.status === 200) return proc;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`ingest did not become ready: ${stderr}`);
  }

  async function call(method: string, path: string, user?: ReturnType<typeof newStreamer>, body?: unknown) {
    const token = await auth.sign({ service: 'bff', ...(user && { user }) });
    const res = await fetch(platform.url('contents') + path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as TestBody };
  }

  beforeAll(async () => {
    backend = await openTestBackend('postgres');
    dir = await mkdtemp(join(tmpdir(), 'livehouse-ingest-crash-'));
    workDir = join(dir, 'work');
    const [port, adminPort, rtmpPort] = [await freePort(), await freePort(), await freePort()];
    admin = `http://127.0.0.1:${adminPort}`;
    rtmpUrl = `rtmp://127.0.0.1:${rtmpPort}/live`;
    platform = await startPlatform([contentsService, thumbnailService, edgeService], {
      backend: backend.backend,
      env: secrets,
      schemaPrefix: backend.schemaPrefix,
      config: (name) => ({
        log: { level: 'error' },
        ...(name === 'edge' && { services: { ingest: `http://127.0.0.1:${port}` } }),
        ...(name === 'thumbnail' && { thumbnail: { storage: { kind: 'filesystem', dir: join(dir, 'thumbs') } } }),
      }),
    });
    const base = {
      rtmp: { host: '127.0.0.1', port: rtmpPort },
      workDir,
      storage: { kind: 'filesystem', dir: join(dir, 'media') },
      ladder: testLadder,
      transcodeSlots: 0,
      graceMs: 3000,
      heartbeatMs: 500,
      thumbnailIntervalMs: 0,
      drainMs: 500,
      instanceId: 'ingest-crash',
    };
    writeConfig = async (name, overrides) => {
      const file = join(dir, `${name}.yaml`);
      const ingest = { ...base, ...overrides };
      await writeFile(
        file,
        [
          `http: { host: 127.0.0.1, port: ${port}, adminPort: ${adminPort}, shutdownTimeoutMs: 1000 }`,
          `database: { url: "${inject('postgresUrl')}", schema: ${backend.schemaPrefix}ingest, migrateOnStart: true, poolSize: 5 }`,
          `services: { contents: "${platform.url('contents')}", thumbnail: "${platform.url('thumbnail')}" }`,
          'log: { level: info }',
          `ingest: ${JSON.stringify(ingest)}`,
        ].join('\n'),
      );
      return file;
    };
  }, 120_000);

  afterAll(async () => {
    if (child) kill(child);
    await platform?.close();
    await backend?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** A channel goes live through the child; once a few segments are archived, the child is SIGKILLed. */
  async function liveThenKill(configFile: string) {
    const proc = await start(configFile);
    const owner = newStreamer();
    const created = await call('POST', '/channels', owner, { title: 'Crash TV' });
    expect(created.status).toBe(201);
    const channelId = created.body.channel.id as string;
    const key = created.body.streamKey as string;
    const edge = platform.url('edge');
    const pub = publish(`${rtmpUrl}/${key}`);
    try {
      const streamId = await waitFor<string>('the channel to be live', async () => {
        const c = await call('GET', `/channels/${channelId}`);
        return c.body.liveStreamId ?? undefined;
      });
      await waitFor(
        'four archived segments',
        async () => {
          const r = await get(`${edge}/streams/${streamId}/archive.m3u8`);
          return r.status === 200 && listedSegments(r.text).length >= 4;
        },
        60_000,
      );
      // Mid-segment, at an arbitrary point of it.
      await new Promise((r) => setTimeout(r, Math.random() * 1000));
      proc.kill('SIGKILL');
      if (proc.exitCode === null && proc.signalCode === null) await once(proc, 'exit');
      // The publisher loses its connection with the process. What it had sent by then is its last
      // progress report (read after its exit: a loaded test process reads the reports late).
      await pub.exited;
      const published = pub.sentSeconds();
      // Nothing ended it: contents still says live.
      expect((await call('GET', `/streams/${streamId}`)).body.state).toBe('live');
      return { streamId, channelId, key, published, edge };
    } finally {
      kill(pub.child);
    }
  }

  async function endedStream(streamId: string) {
    return waitFor<{ state: string; archive: { durationSeconds: number } | null }>(
      'the stream to be ended with its archive',
      async () => {
        const s = await call('GET', `/streams/${streamId}`);
        return s.body.state === 'ended' && s.body.archive ? s.body : undefined;
      },
      90_000,
    );
  }

  async function probeDuration(url: string) {
    const { stdout } = await run('ffprobe', [
      '-v',
      'error',
      '-show_entries',
      'format=duration',
      '-of',
      'default=nw=1:nk=1',
      url,
    ]);
    return Number(stdout.trim());
  }

  it('when the ingest process is killed mid-stream and started again, then the stream is ended and its archive is a VOD of what was stored, short of at most the segment being written', async () => {
    const config = await writeConfig('ends', { graceMs: 3000 });
    const { streamId, key, published, edge } = await liveThenKill(config);

    await start(config);
    const ended = await endedStream(streamId);
    const vod = await get(`${edge}/streams/${streamId}/archive.m3u8`);
    expect(vod.status).toBe(200);
    expect(vod.text).toContain('#EXT-X-PLAYLIST-TYPE:VOD');
    expect(vod.text).toContain('#EXT-X-ENDLIST');
    const seqs = listedSegments(vod.text);
    expect(seqs).toEqual(seqs.map((_, i) => i));
    expect(vod.text).not.toContain('#EXT-X-DISCONTINUITY');

    const probed = await probeDuration(`${edge}/streams/${streamId}/archive.m3u8`);
    if (process.env.INGEST_CRASH_LOG) console.log({ published, probed });
    // At most the segment being written (1 s) is lost, plus what was still in flight on the socket.
    expect(published - probed).toBeLessThan(1.5);
    expect(probed).toBeLessThan(published + 0.5);
    expect(Math.abs((ended.archive?.durationSeconds ?? 0) - probed)).toBeLessThan(0.5);
    // The live playlist says the stream is over, so players stop waiting for it.
    const live = await get(`${edge}/streams/${streamId}/source/index.m3u8`);
    expect(live.text).toContain('#EXT-X-ENDLIST');

    expect(logs.some((l) => l.includes('orphaned stream') && l.includes(streamId))).toBe(true);
    expect(logs.some((l) => l.includes(key))).toBe(false);
    expect(await filesUnder(workDir)).toEqual([]);
    if (child) kill(child);
    if (child && child.exitCode === null && child.signalCode === null) await once(child, 'exit');
  }, 150_000);

  it('when the ingest process is killed mid-stream and the publisher comes back to the restarted one within the grace window, then the same stream and archive go on, short of at most the segment being written', async () => {
    // A long grace window: the restarted instance must not end the stream before the republish.
    const config = await writeConfig('resumes', { graceMs: 15_000 });
    const { streamId, channelId, key, published, edge } = await liveThenKill(config);

    await start(config);
    const again = publish(`${rtmpUrl}/${key}`, { seconds: 3 });
    expect(await again.exited).toBe(0);
    expect((await call('GET', `/channels/${channelId}`)).body.liveStreamId).toBe(streamId);
    await endedStream(streamId);
    const vod = await get(`${edge}/streams/${streamId}/archive.m3u8`);
    expect(vod.text).toContain('#EXT-X-ENDLIST');
    const seqs = listedSegments(vod.text);
    expect(seqs).toEqual(seqs.map((_, i) => i));
    // One timeline break: the republish (the segments the crashed run finished are before it).
    expect(vod.text.match(/#EXT-X-DISCONTINUITY\n/g)?.length).toBe(1);
    const probed = await probeDuration(`${edge}/streams/${streamId}/archive.m3u8`);
    const total = published + again.sentSeconds();
    if (process.env.INGEST_CRASH_LOG) console.log({ published, again: again.sentSeconds(), probed });
    expect(total - probed).toBeLessThan(1.5);
    // Nothing twice (the crashed run's segments stored again would add seconds); each run's last
    // segment may be reported a little long, hence 1 s.
    expect(probed).toBeLessThan(total + 1);
    expect(await filesUnder(workDir)).toEqual([]);
  }, 150_000);
});
