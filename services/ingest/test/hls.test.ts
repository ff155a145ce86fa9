import { media } from '@livehouse/contracts';
import { parseConfig } from '@livehouse/kit';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ingestConfig } from '../src/config.ts';
import { codecString, masterPlaylist, mediaPlaylist, parseMediaPlaylist, type Segment } from '../src/hls.ts';

const segmentsArb = fc
  .array(fc.record({ duration: fc.double({ min: 0.04, max: 10, noNaN: true }), discontinuity: fc.boolean() }), {
    minLength: 1,
    maxLength: 40,
  })
  .chain((items) =>
    fc.nat({ max: 1_000_000 }).map((start) => items.map((s, i): Segment => ({ ...s, seq: start + i }))),
  );

describe('HLS playlists', () => {
  it('when any playlist we write is parsed back, then every segment comes back in order with its duration', () => {
    fc.assert(
      fc.property(
        segmentsArb,
        fc.constantFrom('live', 'event', 'vod') as fc.Arbitrary<'live' | 'event' | 'vod'>,
        (segments, kind) => {
          const text = mediaPlaylist(segments, { kind, window: 6, targetDuration: 10 });
          const shown = kind === 'live' ? segments.slice(-6) : segments;
          const parsed = parseMediaPlaylist(text);
          expect(parsed.map((p) => p.uri)).toEqual(shown.map((s) => `${String(s.seq).padStart(6, '0')}.ts`));
          for (const [i, p] of parsed.entries())
            expect(Math.abs(p.duration - (shown[i] as Segment).duration)).toBeLessThan(0.001);
          // The newest sequence number (what a blocking reload waits for) is the last segment's.
          expect(media.lastSequence(text)).toBe(shown.at(-1)?.seq);
          expect(text.includes('#EXT-X-ENDLIST')).toBe(kind === 'vod');
        },
      ),
    );
  });

  it('when a live window starts after discontinuities, then DISCONTINUITY-SEQUENCE counts them', () => {
    const segments: Segment[] = Array.from({ length: 10 }, (_, i) => ({
      seq: i,
      duration: 1,
      discontinuity: i === 2 || i === 8,
    }));
    const text = mediaPlaylist(segments, { kind: 'live', window: 4, targetDuration: 1 });
    expect(text).toContain('#EXT-X-MEDIA-SEQUENCE:6');
    expect(text).toContain('#EXT-X-DISCONTINUITY-SEQUENCE:1');
    expect(text.match(/#EXT-X-DISCONTINUITY\n/g)).toHaveLength(1);
  });

  it('when any text is parsed, then it never throws and yields only safe file names', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 2000 }), (text) => {
        for (const s of parseMediaPlaylist(`#EXTM3U\n${text}\n#EXTINF:1,\n${text}`)) {
          expect(s.uri).toMatch(/^[A-Za-z0-9_.-]{1,128}$/);
          expect(Number.isFinite(s.duration)).toBe(true);
        }
        expect(() => media.lastSequence(text)).not.toThrow();
      }),
    );
  });

  it('when the master playlist is written, then each variant has bandwidth, resolution and codecs, highest first', () => {
    const text = masterPlaylist([
      {
        name: '360p',
        bandwidth: 900_000,
        width: 640,
        height: 360,
        codecs: codecString({ profile: 'Main', level: 30 }, 'LC'),
      },
      {
        name: 'source',
        bandwidth: 3_000_000,
        width: 1280,
        height: 720,
        codecs: codecString({ profile: 'High', level: 31 }, 'LC'),
      },
    ]);
    expect(text).toBe(
      '#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-INDEPENDENT-SEGMENTS\n' +
        '#EXT-X-STREAM-INF:BANDWIDTH=3000000,RESOLUTION=1280x720,CODECS="avc1.64001f,mp4a.40.2"\nsource/index.m3u8\n' +
        '#EXT-X-STREAM-INF:BANDWIDTH=900000,RESOLUTION=640x360,CODECS="avc1.4d001e,mp4a.40.2"\n360p/index.m3u8\n',
    );
  });

  it('when ingest starts with the defaults, then the ladder is source copy + 480p + 360p at 1 s segments and a 30 s grace', () => {
    const config = parseConfig({}, ingestConfig, { source: 'test', env: { LIVEHOUSE_INTERNAL_KEY: 'k'.repeat(32) } });
    expect(config.ingest.ladder.map((r) => r.name)).toEqual(['source', '480p', '360p']);
    expect(config.ingest.segmentSeconds).toBe(1);
    expect(config.ingest.graceMs).toBe(30_000);
    expect(config.ingest.thumbnailIntervalMs).toBe(20_000);
    expect(config.ingest.rtmp.port).toBe(1935);
  });
});
