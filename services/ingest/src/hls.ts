/** One finished segment as ffmpeg's hls muxer lists it. */
export interface ListedSegment {
  uri: string;
  duration: number;
}

/**
 * The segments of a media playlist written by ffmpeg (EXTINF + URI pairs); everything else is
 * ignored. Malformed durations or URIs are skipped, never thrown: the file may be read mid-rename.
 */
export function parseMediaPlaylist(text: string): ListedSegment[] {
  const out: ListedSegment[] = [];
  let duration: number | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#EXTINF:')) {
      const value = Number.parseFloat(line.slice(8).split(',')[0] ?? '');
      duration = Number.isFinite(value) && value >= 0 && value < 3600 ? value : undefined;
    } else if (line !== '' && !line.startsWith('#')) {
      if (duration !== undefined && /^[A-Za-z0-9_.-]{1,128}$/.test(line)) out.push({ uri: line, duration });
      duration = undefined;
    }
  }
  return out;
}

/** A segment as we serve it: numbered per rendition across ffmpeg restarts. */
export interface Segment {
  seq: number;
  duration: number;
  /** The first segment after a restart or a republish: a new timeline. */
  discontinuity: boolean;
}

const fmt = (d: number) => d.toFixed(3);
const segmentUri = (seq: number) => `${String(seq).padStart(6, '0')}.ts`;
export const segmentName = segmentUri;

/** seq → the segment's file name; undefined unless it is one of ours. */
export function parseSegmentName(name: string) {
  const m = /^(\d{6,9})\.ts$/.exec(name);
  return m ? Number(m[1]) : undefined;
}

/**
 * A media playlist. Live: the last `window` segments, no ENDLIST (the muxer's own ENDLIST on a
 * publisher drop would stop players). Event/VOD: every segment; VOD ends with ENDLIST.
 */
export function mediaPlaylist(
  segments: readonly Segment[],
  options: { kind: 'live' | 'event' | 'vod'; window?: number; prefix?: string; targetDuration: number },
) {
  const shown = options.kind === 'live' ? segments.slice(-(options.window ?? 6)) : segments;
  const first = shown[0];
  const skipped = first ? segments.indexOf(first) : 0;
  const discontinuitiesBefore = segments.slice(0, skipped).filter((s) => s.discontinuity).length;
  const lines = [
    '#EXTM3U',
    '#EXT-X-VERSION:6',
    `#EXT-X-TARGETDURATION:${Math.max(1, Math.ceil(options.targetDuration))}`,
    `#EXT-X-MEDIA-SEQUENCE:${first?.seq ?? 0}`,
    ...(discontinuitiesBefore > 0 ? [`#EXT-X-DISCONTINUITY-SEQUENCE:${discontinuitiesBefore}`] : []),
    ...(options.kind === 'live' ? [] : [`#EXT-X-PLAYLIST-TYPE:${options.kind === 'vod' ? 'VOD' : 'EVENT'}`]),
    '#EXT-X-INDEPENDENT-SEGMENTS',
  ];
  shown.forEach((s, i) => {
    if (s.discontinuity && (i > 0 || options.kind === 'live')) lines.push('#EXT-X-DISCONTINUITY');
    lines.push(`#EXTINF:${fmt(s.duration)},`, `${options.prefix ?? ''}${segmentUri(s.seq)}`);
  });
  if (options.kind === 'vod') lines.push('#EXT-X-ENDLIST');
  return `${lines.join('\n')}\n`;
}

export interface Variant {
  name: string;
  bandwidth: number;
  width: number;
  height: number;
  codecs: string;
}

/** Every rendition with its bandwidth, resolution and codecs, highest first. */
export function masterPlaylist(variants: readonly Variant[]) {
  const lines = ['#EXTM3U', '#EXT-X-VERSION:6', '#EXT-X-INDEPENDENT-SEGMENTS'];
  for (const v of [...variants].sort((a, b) => b.bandwidth - a.bandwidth)) {
    lines.push(
      `#EXT-X-STREAM-INF:BANDWIDTH=${v.bandwidth},RESOLUTION=${v.width}x${v.height},CODECS="${v.codecs}"`,
      `${v.name}/index.m3u8`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** Sum of the EXTINF durations: a VOD's length. */
export const totalDuration = (segments: readonly Segment[]) => segments.reduce((sum, s) => sum + s.duration, 0);

/** RFC 6381 codec strings from ffprobe's profile/level names. */
export function codecString(video: { profile?: string; level?: number } | undefined, audioProfile?: string) {
  const parts: string[] = [];
  if (video) {
    const profiles: Record<string, string> = {
      Baseline: '4200',
      'Constrained Baseline': '42e0',
      Main: '4d00',
      High: '6400',
    };
    const level = Math.max(10, Math.min(62, video.level ?? 31));
    parts.push(`avc1.${profiles[video.profile ?? 'High'] ?? '6400'}${level.toString(16).padStart(2, '0')}`);
  }
  if (audioProfile !== undefined) parts.push(audioProfile === 'HE-AAC' ? 'mp4a.40.5' : 'mp4a.40.2');
  return parts.join(',');
}
