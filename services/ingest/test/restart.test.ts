import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dbKinds, openTestBackend } from '@livehouse/kit/testing';
import { describe, expect, it } from 'vitest';
import { channelWithKey, filesUnder, get, kill, listedSegments, publish, startMedia, waitFor } from './helpers.ts';

describe.each(dbKinds)('ingest going away mid-stream on %s', (kind) => {
  it('when the instance holding a live stream stops and another starts, then the stream is ended and its archive finalized from what is stored', async () => {
    const backend = await openTestBackend(kind);
    const root = await mkdtemp(join(tmpdir(), 'livehouse-restart-'));
    const dirs = { workDir: join(root, 'work'), mediaDir: join(root, 'media'), backend };
    try {
      // The first instance: a publish, a few segments, then the instance goes (its drain bound cuts the publisher).
      const first = await startMedia(kind, { transcodeSlots: 0, thumbnailIntervalMs: 0, instanceId: 'ingest-a' }, dirs);
      const { channelId, key } = await channelWithKey(first.p);
      const pub = publish(`${first.rtmpUrl}/${key}`);
      let streamId: string;
      try {
        streamId = await waitFor<string>('live', async () => {
          const c = await first.p.call('contents', 'GET', `/channels/${channelId}`);
          return c.body.liveStreamId ?? undefined;
        });
        await waitFor('three segments', async () => {
          const r = await get(`${first.edge}/streams/${streamId}/source/index.m3u8`);
          return listedSegments(r.text).length >= 3;
        });
      } finally {
        await first.close();
        kill(pub.child);
      }
      // Nobody holds it now: contents still says live.
      const second = await startMedia(
        kind,
        { transcodeSlots: 0, thumbnailIntervalMs: 0, instanceId: 'ingest-b' },
        dirs,
      );
      try {
        const ended = await waitFor<{ state: string; archive: { durationSeconds: number } | null }>(
          'the orphan to be ended with its archive',
          async () => {
            const s = await second.p.call('contents', 'GET', `/streams/${streamId}`);
            return s.body.state === 'ended' && s.body.archive ? s.body : undefined;
          },
        );
        expect(ended.archive?.durationSeconds).toBeGreaterThanOrEqual(3);
        const vod = await get(`${second.edge}/streams/${streamId}/archive.m3u8`);
        expect(vod.text).toContain('#EXT-X-ENDLIST');
        const seqs = listedSegments(vod.text);
        expect(seqs).toEqual(seqs.map((_, i) => i));
        expect(second.p.logs.some((l) => l.includes('orphaned stream') && l.includes(streamId))).toBe(true);
        expect(await filesUnder(dirs.workDir)).toEqual([]);
      } finally {
        await second.close();
      }
    } finally {
      await backend.close();
    }
  }, 180_000);
});
