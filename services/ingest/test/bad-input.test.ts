import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  channelWithKey,
  filesUnder,
  get,
  kill,
  listedSegments,
  type MediaPlatform,
  publish,
  startMedia,
  waitFor,
} from './helpers.ts';

/** Writes `bytes` to the RTMP port and resolves when the server closes the connection. */
function rawSession(port: number, steps: (socket: Socket, received: () => Buffer) => Promise<void>) {
  return new Promise<{ closedByServer: boolean }>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let data = Buffer.alloc(0);
    socket.on('data', (d: Buffer) => {
      data = Buffer.concat([data, d]);
    });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ closedByServer: false });
    }, 15_000);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ closedByServer: true });
    });
    socket.on('error', () => {});
    socket.on('connect', () => steps(socket, () => data).catch(reject));
  });
}

/** A plain RTMP handshake (C0 C1, wait for S0 S1 S2, C2). */
async function handshake(socket: Socket, received: () => Buffer) {
  socket.write(Buffer.concat([Buffer.from([3]), randomBytes(1536)]));
  await waitFor('S0 S1 S2', async () => received().length >= 1 + 1536 * 2, 5000);
  socket.write(randomBytes(1536));
}

describe('bad RTMP input', () => {
  let m: MediaPlatform;
  beforeAll(async () => {
    m = await startMedia('pglite', { thumbnailIntervalMs: 0, transcodeSlots: 0 });
  }, 120_000);
  afterAll(() => m?.close());

  it('when garbage, no key, a second publisher, a key in a query or a huge chunk size arrive, then each is refused, logged without the key, writes nothing, and the live stream goes on (through an ffmpeg crash too)', async () => {
    const { channelId, key } = await channelWithKey(m.p);
    const other = await channelWithKey(m.p);
    // A stream that must stay unaffected.
    const good = publish(`${m.rtmpUrl}/${key}`);
    try {
      const streamId = await waitFor<string>('the good stream', async () => {
        const c = await m.p.call('contents', 'GET', `/channels/${channelId}`);
        return c.body.liveStreamId ?? undefined;
      });
      const playlist = `${m.edge}/streams/${streamId}/source/index.m3u8`;
      const newest = async () => Math.max(-1, ...listedSegments((await get(playlist)).text));
      await waitFor('a first segment', async () => (await newest()) >= 0);
      const filesBefore = new Set(await filesUnder(m.mediaDir));
      const logsBefore = m.p.logs.length;

      // Garbage bytes: not RTMP at all.
      expect((await rawSession(m.rtmpPort, async (s) => void s.write(randomBytes(4096)))).closedByServer).toBe(true);
      // Garbage after a valid handshake.
      expect(
        (
          await rawSession(m.rtmpPort, async (s, r) => {
            await handshake(s, r);
            s.write(randomBytes(8192));
          })
        ).closedByServer,
      ).toBe(true);
      // A huge chunk size (SetChunkSize 0x7fffffff on chunk stream 2).
      expect(
        (
          await rawSession(m.rtmpPort, async (s, r) => {
            await handshake(s, r);
            s.write(Buffer.from('02000000000004010000000000000000', 'hex').fill(0x7f, 12, 13).fill(0xff, 13, 16));
          })
        ).closedByServer,
      ).toBe(true);
      // No key, a key in a URL query, a second publisher on the live key: ffmpeg is refused (non-zero exit).
      for (const url of [`${m.rtmpUrl}/`, `${m.rtmpUrl}/${other.key}?auth=1`, `${m.rtmpUrl}/${key}`]) {
        const bad = publish(url, { seconds: 10 });
        expect(await bad.exited).not.toBe(0);
      }

      // Nothing written: the other channel never went live, no file appeared beyond the good stream's own.
      const otherChannel = await m.p.call('contents', 'GET', `/channels/${other.channelId}`);
      expect(otherChannel.body.liveStreamId).toBeNull();
      const added = (await filesUnder(m.mediaDir)).filter((f) => !filesBefore.has(f));
      expect(added.every((f) => f.startsWith(`streams/${streamId}/`))).toBe(true);
      expect((await filesUnder(m.workDir)).every((f) => f.startsWith(streamId))).toBe(true);

      // Logged: one refusal line each, naming the stream (the second publisher) and never a key.
      const lines = m.p.logs.slice(logsBefore);
      const refusals = lines.filter((l) => l.includes('RTMP connection refused'));
      expect(refusals.length).toBeGreaterThanOrEqual(6);
      expect(refusals.some((l) => l.includes(streamId) && l.includes('already live'))).toBe(true);
      expect(refusals.some((l) => l.includes('URL query'))).toBe(true);
      expect(refusals.some((l) => l.includes('chunk size'))).toBe(true);
      for (const secret of [key, other.key]) expect(m.p.logs.some((l) => l.includes(secret))).toBe(false);

      // The good stream went on meanwhile, still on the same stream.
      const before = await newest();
      await waitFor('the good stream to advance', async () => (await newest()) > before);
      expect(good.child.exitCode).toBeNull();
      const stillLive = await m.p.call('contents', 'GET', `/channels/${channelId}`);
      expect(stillLive.body.liveStreamId).toBe(streamId);

      // ffmpeg dies mid-stream: the supervisor restarts it; the same stream goes on after a discontinuity.
      const live = m.p.ingest().lives.get(streamId);
      const pid = live?.ffmpegPid;
      expect(pid).toBeDefined();
      process.kill(pid as number, 'SIGKILL');
      await waitFor('a discontinuity after the restart', async () =>
        (await get(playlist)).text.includes('#EXT-X-DISCONTINUITY'),
      );
      await waitFor('a new ffmpeg', async () => live?.ffmpegPid !== undefined && live.ffmpegPid !== pid);
      const afterRestart = await newest();
      await waitFor('the stream to advance after the restart', async () => (await newest()) > afterRestart);
      expect((await m.p.call('contents', 'GET', `/channels/${channelId}`)).body.liveStreamId).toBe(streamId);
      expect(m.p.logs.some((l) => l.includes('ffmpeg died mid-stream') && l.includes(streamId))).toBe(true);
    } finally {
      kill(good.child);
    }
  }, 90_000);
});
