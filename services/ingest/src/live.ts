import { EventEmitter } from 'node:events';
import { type FSWatcher, mkdirSync, watch } from 'node:fs';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ObjectStorage } from '@livehouse/kit/storage';
import type { FastifyBaseLogger } from 'fastify';
import type { Kysely } from 'kysely';
import type { IngestConfig, RenditionConfig } from './config.ts';
import type { IngestDatabase } from './db.ts';
import { type FfmpegRun, ffmpegArgs, probe, startFfmpeg } from './ffmpeg.ts';
import {
  codecString,
  masterPlaylist,
  mediaPlaylist,
  parseMediaPlaylist,
  type Segment,
  segmentName,
  type Variant,
} from './hls.ts';
import * as repo from './ingest.repository.ts';
import type { TagKind } from './rtmp.adapter.ts';
import { flvHeader } from './rtmp.adapter.ts';

export const M3U8 = 'application/vnd.apple.mpegurl';
export const TS = 'video/mp2t';

/** Storage keys of a stream: one folder per stream id (never the key). */
export const keys = {
  master: (id: string) => `streams/${id}/master.m3u8`,
  media: (id: string, rendition: string) => `streams/${id}/${rendition}/index.m3u8`,
  segment: (id: string, rendition: string, seq: number) => `streams/${id}/${rendition}/${segmentName(seq)}`,
  archive: (id: string) => `streams/${id}/archive.m3u8`,
};

export interface LiveDeps {
  config: IngestConfig;
  db: Kysely<IngestDatabase>;
  storage: ObjectStorage;
  log: FastifyBaseLogger;
  onSpeed: (streamId: string, speed: number) => void;
  onRestart: (streamId: string) => void;
  onSegment: (streamId: string, rendition: string, bytes: number) => void;
  /**
   * A ladder behind its input asks first: the instance drops one ladder per window, so that one
   * stream too many costs one ladder, not every ladder that the overload slowed down.
   */
  mayFallBack: () => boolean;
  /** The ladder fell behind its input and was dropped: the stream is passthrough from now on. */
  onFallback: (streamId: string, speed: number) => void;
}

interface Track {
  rendition: RenditionConfig;
  segments: Segment[];
  /** ffmpeg file names of the current run already taken. */
  seen: Set<string>;
  nextSeq: number;
  variant?: Variant;
  bytes: number;
  seconds: number;
  newestFile?: string;
  /** The next segment starts a new timeline (a new ffmpeg run after earlier segments). */
  discontinuity: boolean;
  /** Collections of this track run one after another, so its segments keep ffmpeg's order. */
  collecting: Promise<void>;
}

/** The archive and the passthrough rendition: the ladder's copied source (config validation requires one). */
export const archiveRendition = (ladder: readonly RenditionConfig[]) =>
  (ladder.find((r) => r.copy) ?? { name: 'source', copy: true, audioKbps: 128 }) as RenditionConfig;

/**
 * One live stream on this instance: the publisher's FLV tags into one supervised ffmpeg, ffmpeg's
 * segments into storage under our own numbering, our own playlists (live window, master, archive).
 * ffmpeg runs are numbered ("epochs"): a restart or a republish starts a new one, which the
 * playlists mark as a discontinuity.
 */
export class Live {
  readonly streamId: string;
  readonly channelId: string;
  /** Holds a transcode slot; false from the start (none free) or after the ladder fell behind. */
  transcoded: boolean;
  renditions: readonly RenditionConfig[];
  // Every held blocking reload on the origin listens here: no listener limit.
  readonly events = new EventEmitter().setMaxListeners(0);
  state: 'publishing' | 'reconnecting' | 'ended' = 'publishing';
  speed: number | undefined;
  /** Media seconds ffmpeg wrote per media second it was fed, over the fallback's window: < 1 is falling behind. */
  inputSpeed: number | undefined;
  #deps: LiveDeps;
  #tracks: Map<string, Track>;
  #archive: Track;
  #epoch: number;
  #ffmpeg: FfmpegRun | undefined;
  #ffmpegExited: Promise<unknown> = Promise.resolve();
  #headers: { metadata?: Buffer; audio?: Buffer; video?: Buffer } = {};
  #waitingKeyframe = true;
  #poller: NodeJS.Timeout | undefined;
  #polling: Promise<void> | undefined;
  #pollAgain = false;
  /** ffmpeg's playlist renames in the current run's folders: a finished segment is taken at once. */
  #watchers: FSWatcher[] = [];
  #restarts: number[] = [];
  /** Media time (ms, FLV dts) of the newest tag fed to this run, and where the run started. */
  #fedMs: number | undefined;
  #firstFedMs = 0;
  /** (input, output) media seconds at each progress report of this run: how fast the ladder encodes. */
  #progress: { fed: number; out: number }[] = [];
  #fallingBack = false;
  /** Every archived segment (the EVENT playlist is rewritten from it, not from the table, each second). */
  #archived: Segment[];
  #masterWritten = false;
  #ended = false;
  /** Serializes attach, detach, restarts and the end. */
  #chain: Promise<unknown> = Promise.resolve();

  constructor(
    deps: LiveDeps,
    stream: { streamId: string; channelId: string; transcoded: boolean; epoch: number; archived: Segment[] },
  ) {
    this.#deps = deps;
    this.streamId = stream.streamId;
    this.channelId = stream.channelId;
    this.transcoded = stream.transcoded;
    this.renditions = stream.transcoded ? deps.config.ladder : [archiveRendition(deps.config.ladder)];
    this.#tracks = new Map(
      this.renditions.map((r) => [
        r.name,
        {
          rendition: r,
          segments: [],
          seen: new Set(),
          nextSeq: 0,
          bytes: 0,
          seconds: 0,
          discontinuity: false,
          collecting: Promise.resolve(),
        },
      ]),
    );
    this.#archive = this.#tracks.get(archiveRendition(deps.config.ladder).name) as Track;
    // A stream taken over from another instance continues its archive's numbering.
    this.#archive.segments = stream.archived.slice(-deps.config.liveWindow);
    this.#archived = [...stream.archived];
    const last = stream.archived.at(-1);
    if (last) for (const t of this.#tracks.values()) t.nextSeq = last.seq + 1;
    this.#epoch = stream.epoch;
  }

  #run<T>(task: () => Promise<T>): Promise<T> {
    const next = this.#chain.then(task, task);
    this.#chain = next.catch(() => {});
    return next;
  }

  get #dir() {
    return join(this.#deps.config.workDir, this.streamId);
  }
  #epochDir(epoch: number) {
    return join(this.#dir, `e${epoch}`);
  }

  /** A publisher (first or resumed) is on: a new ffmpeg run. */
  attach() {
    return this.#run(async () => {
      if (this.#ended) throw new Error('the stream has ended');
      await this.#ffmpegExited;
      await this.#collect(this.#epoch);
      this.state = 'publishing';
      this.#headers = {};
      this.#startEpoch();
      await repo.setState(this.#deps.db, this.streamId, 'publishing', this.#epoch);
    });
  }

  /** The publisher is gone: ffmpeg finishes the segment in progress; the grace window is the caller's. */
  detach() {
    return this.#run(async () => {
      if (this.#ended) return;
      this.state = 'reconnecting';
      this.#ffmpeg?.end();
      await repo.setState(this.#deps.db, this.streamId, 'reconnecting');
    });
  }

  onTag(tag: Buffer, kind: TagKind, dts = 0) {
    if (kind === 'metadata') this.#headers.metadata = tag;
    else if (kind === 'audio-header') this.#headers.audio = tag;
    else if (kind === 'video-header') this.#headers.video = tag;
    const ffmpeg = this.#ffmpeg;
    if (!ffmpeg) return;
    if (this.#waitingKeyframe) {
      if (kind !== 'keyframe') {
        if (kind !== 'audio' && kind !== 'video') ffmpeg.write(tag);
        return;
      }
      this.#waitingKeyframe = false;
      this.#firstFedMs = dts;
    }
    ffmpeg.write(tag);
    if (kind === 'video' || kind === 'keyframe' || kind === 'audio') this.#fedMs = Math.max(this.#fedMs ?? dts, dts);
  }

  /**
   * The ladder's speed against its input, over the last `windowSeconds` of input media: a stalled
   * publisher stalls both sides (no verdict), an encoder that cannot keep up writes less than it got.
   */
  #onProgress(outSeconds: number) {
    const { minSpeed, windowSeconds } = this.#deps.config.ladderFallback;
    if (this.#fedMs === undefined) return;
    const fed = (this.#fedMs - this.#firstFedMs) / 1000;
    const samples = this.#progress;
    samples.push({ fed, out: outSeconds });
    while (samples.length > 2 && fed - (samples[1]?.fed ?? fed) >= windowSeconds) samples.shift();
    const first = samples[0];
    if (!first || fed - first.fed < windowSeconds) return;
    const speed = (outSeconds - first.out) / (fed - first.fed);
    this.inputSpeed = speed;
    if (this.transcoded && !this.#fallingBack && minSpeed > 0 && speed < minSpeed && this.#deps.mayFallBack())
      this.#fallBack(speed);
  }

  /**
   * Passthrough from now on: the ladder's ffmpeg finishes its segment, the lower renditions' playlists
   * end, the master lists the source only, and a new run copies the source (a discontinuity).
   */
  #fallBack(speed: number) {
    this.#fallingBack = true;
    void this.#run(async () => {
      if (this.#ended || !this.transcoded) return;
      const { config, storage, db, log } = this.#deps;
      this.transcoded = false;
      this.renditions = [archiveRendition(config.ladder)];
      log.warn({ streamId: this.streamId, speed: Math.round(speed * 1000) / 1000 }, 'ladder behind live: passthrough');
      const run = this.#ffmpeg;
      // Retired, not crashed: its exit starts no restart.
      this.#ffmpeg = undefined;
      run?.end();
      await this.#ffmpegExited;
      for (const [name, track] of this.#tracks) {
        if (track === this.#archive) continue;
        this.#tracks.delete(name);
        if (track.segments.length > 0)
          await storage.put(keys.media(this.streamId, name), Buffer.from(this.#livePlaylist(track, true)), M3U8);
      }
      this.#masterWritten = false;
      await this.#writeMaster();
      await repo.setPassthrough(db, this.streamId);
      this.#deps.onFallback(this.streamId, speed);
      if (this.state === 'publishing') {
        this.#startEpoch();
        await repo.setState(db, this.streamId, 'publishing', this.#epoch);
      }
    }).finally(() => {
      this.#fallingBack = false;
    });
  }

  #startEpoch() {
    this.#epoch += 1;
    const epoch = this.#epoch;
    for (const t of this.#tracks.values()) {
      t.seen.clear();
      t.discontinuity = t.nextSeq > 0;
    }
    this.#fedMs = undefined;
    this.#progress = [];
    this.inputSpeed = undefined;
    const { config, log } = this.#deps;
    // ffmpeg's hls muxer creates files, not folders.
    for (const r of this.renditions) mkdirSync(join(this.#epochDir(epoch), r.name), { recursive: true });
    this.#watch(epoch);
    const run = startFfmpeg(config.ffmpeg, ffmpegArgs(config, this.renditions, this.#epochDir(epoch)), {
      onSpeed: (speed) => {
        this.speed = speed;
        this.#deps.onSpeed(this.streamId, speed);
      },
      onProgress: (out) => {
        if (this.#ffmpeg === run) this.#onProgress(out);
      },
      onStderr: (line) => log.warn({ streamId: this.streamId, epoch, ffmpeg: line }, 'ffmpeg says'),
    });
    this.#ffmpeg = run;
    this.#waitingKeyframe = true;
    // What a new run needs before the next keyframe: the FLV header and the codec headers seen so far.
    run.write(flvHeader());
    for (const tag of [this.#headers.metadata, this.#headers.audio, this.#headers.video]) if (tag) run.write(tag);
    this.#ffmpegExited = run.exited.then(async ({ code, signal }) => {
      // Ended on purpose (a fallback) when it is no longer the current run.
      const current = this.#ffmpeg === run;
      if (current) this.#ffmpeg = undefined;
      await this.#collect(epoch).catch(() => {});
      if (current && this.state === 'publishing' && !this.#ended) {
        log.warn({ streamId: this.streamId, epoch, code, signal }, 'ffmpeg died mid-stream: restarting it');
        this.#deps.onRestart(this.streamId);
        void this.#restart();
      }
    });
    this.#ensurePoller();
  }

  async #restart() {
    const now = Date.now();
    this.#restarts = this.#restarts.filter((t) => now - t < 60_000);
    this.#restarts.push(now);
    // Crash loops back off: 0.2 s, 0.4 s, … up to 5 s.
    const delay = Math.min(5000, 100 * 2 ** this.#restarts.length);
    await new Promise((r) => setTimeout(r, delay));
    await this.#run(async () => {
      if (this.state !== 'publishing' || this.#ended || this.#ffmpeg) return;
      this.#startEpoch();
      await repo.setState(this.#deps.db, this.streamId, 'publishing', this.#epoch);
    });
  }

  /** For tests and the supervisor's own test: the running ffmpeg's pid. */
  get ffmpegPid() {
    return this.#ffmpeg?.process.pid;
  }

  /**
   * ffmpeg renames `index.m3u8.tmp` over `index.m3u8` the moment a segment is finished: inotify tells
   * us then (a poll would add half its period on average). The poller stays as a safety net.
   */
  #watch(epoch: number) {
    this.#unwatch();
    for (const r of this.renditions) {
      try {
        const w = watch(join(this.#epochDir(epoch), r.name), (_event, file) => {
          if (file === 'index.m3u8') this.#kick();
        });
        w.on('error', () => {});
        this.#watchers.push(w);
      } catch {
        // No inotify here (or out of watches): the poller alone.
      }
    }
  }

  #unwatch() {
    for (const w of this.#watchers) w.close();
    this.#watchers = [];
  }

  /** A collection of the current run now, or right after the one in progress. */
  #kick() {
    if (this.#polling) {
      this.#pollAgain = true;
      return;
    }
    this.#polling = this.#collect(this.#epoch).finally(() => {
      this.#polling = undefined;
      if (this.#pollAgain) {
        this.#pollAgain = false;
        this.#kick();
      }
    });
  }

  #ensurePoller() {
    if (this.#poller) return;
    this.#poller = setInterval(() => {
      if (!this.#polling) this.#kick();
    }, 250);
    this.#poller.unref();
  }

  /**
   * Takes every segment ffmpeg has finished in this run into storage and the playlists: renditions
   * side by side (a 360p segment does not wait for the source's archive bookkeeping), each in order.
   */
  async #collect(epoch: number) {
    await Promise.all([...this.#tracks.values()].map((track) => this.#collectTrack(track, epoch)));
  }

  #collectTrack(track: Track, epoch: number) {
    const task = async () => {
      const dir = join(this.#epochDir(epoch), track.rendition.name);
      let text: string;
      try {
        text = await readFile(join(dir, 'index.m3u8'), 'utf8');
      } catch {
        return;
      }
      for (const listed of parseMediaPlaylist(text)) {
        if (track.seen.has(listed.uri)) continue;
        track.seen.add(listed.uri);
        let body: Buffer;
        try {
          body = await readFile(join(dir, listed.uri));
        } catch {
          continue; // deleted already (we were too slow): a gap, not a stall
        }
        await this.#addSegment(track, epoch, listed.uri, listed.duration, body, join(dir, listed.uri));
      }
    };
    const next = track.collecting.then(task);
    track.collecting = next.catch(() => {});
    return next;
  }

  async #addSegment(track: Track, epoch: number, uri: string, duration: number, body: Buffer, file: string) {
    const { storage, db, config } = this.#deps;
    const name = track.rendition.name;
    const segment: Segment = { seq: track.nextSeq++, duration, discontinuity: track.discontinuity };
    track.discontinuity = false;
    await storage.put(keys.segment(this.streamId, name, segment.seq), body, TS);
    track.segments.push(segment);
    if (track.segments.length > config.liveWindow * 4)
      track.segments.splice(0, track.segments.length - config.liveWindow * 2);
    track.bytes += body.length;
    track.seconds += duration;
    track.newestFile = file;
    await storage.put(keys.media(this.streamId, name), Buffer.from(this.#livePlaylist(track)), M3U8);
    // Live viewers first; the archive's bookkeeping after (a crash in between: recoverWorkDir finds
    // the segment in the work folder by its source name, not in the table, and stores it again).
    this.#deps.onSegment(this.streamId, name, body.length);
    this.events.emit('segment', name, segment.seq, file);
    if (track === this.#archive) {
      await repo.addArchiveSegment(db, this.streamId, segment, body.length, `e${epoch}/${uri}`);
      this.#archived.push(segment);
      await writeEventArchive(this.#deps, this.streamId, this.#archived);
    } else {
      // Lower renditions live only as long as the live window needs them.
      const old = segment.seq - config.liveWindow - 4;
      if (old >= 0) void storage.delete([keys.segment(this.streamId, name, old)]).catch(() => {});
    }
    if (!track.variant) await this.#describe(track, file, body.length, duration);
  }

  #targetDuration(track: Track) {
    return Math.max(this.#deps.config.segmentSeconds, ...track.segments.map((s) => s.duration));
  }

  #livePlaylist(track: Track, ended = false) {
    const text = mediaPlaylist(track.segments, {
      kind: 'live',
      window: this.#deps.config.liveWindow,
      targetDuration: this.#targetDuration(track),
    });
    return ended ? `${text}#EXT-X-ENDLIST\n` : text;
  }

  /** The master playlist is written once every rendition has a segment to measure. */
  async #describe(track: Track, file: string, bytes: number, duration: number) {
    const r = track.rendition;
    try {
      const p = await probe(this.#deps.config.ffprobe, file);
      const measured = Math.round((bytes * 8) / Math.max(duration, 0.5));
      const configured = r.videoKbps ? (Math.round(r.videoKbps * 1.1) + r.audioKbps) * 1000 : 0;
      track.variant = {
        name: r.name,
        bandwidth: Math.max(configured, Math.round(measured * 1.2)),
        width: p.width,
        height: p.height,
        codecs: codecString(
          p.hasVideo
            ? { ...(p.videoProfile && { profile: p.videoProfile }), ...(p.videoLevel && { level: p.videoLevel }) }
            : undefined,
          p.hasAudio ? (p.audioProfile ?? 'LC') : undefined,
        ),
      };
    } catch (err) {
      this.#deps.log.warn(
        { err, streamId: this.streamId, rendition: r.name },
        'ffprobe failed: retrying on the next segment',
      );
      return;
    }
    await this.#writeMaster();
  }

  async #writeMaster() {
    const variants = [...this.#tracks.values()].map((t) => t.variant);
    if (this.#masterWritten || !variants.every((v) => v !== undefined)) return;
    this.#masterWritten = true;
    await this.#deps.storage.put(keys.master(this.streamId), Buffer.from(masterPlaylist(variants as Variant[])), M3U8);
    this.events.emit('master');
  }

  /** The newest archive segment on local disk (a live thumbnail's source). */
  get newestFrameSource() {
    return this.#archive.newestFile;
  }

  get hasMaster() {
    return this.#masterWritten;
  }

  /**
   * The end: ffmpeg finishes, the last segments are stored, the live playlists get ENDLIST and the
   * work folder goes. The archive's VOD is written by the caller from the database.
   */
  end() {
    return this.#run(async () => {
      if (this.#ended) return;
      this.#ended = true;
      this.state = 'ended';
      this.#ffmpeg?.end();
      const exited = this.#ffmpegExited;
      // An ffmpeg that does not finish within 10 s is killed: what it wrote so far is kept.
      const timer = setTimeout(() => this.#ffmpeg?.kill(), 10_000);
      await exited;
      clearTimeout(timer);
      if (this.#poller) clearInterval(this.#poller);
      this.#unwatch();
      await this.#polling;
      await this.#collect(this.#epoch);
      for (const track of this.#tracks.values()) {
        if (track.segments.length === 0) continue;
        await this.#deps.storage.put(
          keys.media(this.streamId, track.rendition.name),
          Buffer.from(this.#livePlaylist(track, true)),
          M3U8,
        );
      }
      this.events.emit('ended');
      await rm(this.#dir, { recursive: true, force: true });
    });
  }

  /** Whether ffmpeg's run folder still exists (tests: nothing is left behind). */
  async workDirExists() {
    return stat(this.#dir).then(
      () => true,
      () => false,
    );
  }
}

/**
 * After a crash: segments ffmpeg finished on this machine but that were never stored (the window
 * between its rename and our copy) are stored now, in order, after the ones already archived.
 * Only the segment being written when the process died (a .tmp file) is lost.
 */
export async function recoverWorkDir(
  deps: Pick<LiveDeps, 'config' | 'db' | 'storage'>,
  streamId: string,
  rendition: string,
): Promise<number> {
  const archived = await repo.archiveSegments(deps.db, streamId);
  const known = new Set(archived.map((s) => s.source));
  let next = (archived.at(-1)?.seq ?? -1) + 1;
  let added = 0;
  const dir = join(deps.config.workDir, streamId);
  const epochs = await readdir(dir)
    .then((names) => names.filter((n) => /^e\d+$/.test(n)).sort((a, b) => Number(a.slice(1)) - Number(b.slice(1))))
    .catch(() => [] as string[]);
  for (const epoch of epochs) {
    const base = join(dir, epoch, rendition);
    const text = await readFile(join(base, 'index.m3u8'), 'utf8').catch(() => '');
    let first = true;
    for (const listed of parseMediaPlaylist(text)) {
      if (known.has(`${epoch}/${listed.uri}`)) {
        first = false;
        continue;
      }
      const body = await readFile(join(base, listed.uri)).catch(() => undefined);
      if (!body) continue;
      const segment = { seq: next++, duration: listed.duration, discontinuity: first && archived.length + added > 0 };
      first = false;
      await deps.storage.put(keys.segment(streamId, rendition, segment.seq), body, TS);
      await repo.addArchiveSegment(deps.db, streamId, segment, body.length, `${epoch}/${listed.uri}`);
      added++;
    }
  }
  await rm(dir, { recursive: true, force: true });
  return added;
}

/**
 * A stream ended without its `Live` (the instance holding it died): its live playlists get ENDLIST,
 * so that players stop waiting for segments that will never come.
 */
export async function endLivePlaylists(deps: Pick<LiveDeps, 'storage' | 'config'>, streamId: string) {
  for (const r of deps.config.ladder) {
    const key = keys.media(streamId, r.name);
    const text = (await deps.storage.get(key))?.toString('utf8');
    if (text && !text.includes('#EXT-X-ENDLIST'))
      await deps.storage.put(key, Buffer.from(`${text}#EXT-X-ENDLIST\n`), M3U8);
  }
}

/** The archive as a finished VOD playlist, from the segments the database lists; its duration. */
export async function finalizeArchive(deps: Pick<LiveDeps, 'db' | 'storage' | 'config'>, streamId: string) {
  const segments = await repo.archiveSegments(deps.db, streamId);
  const archive = archiveRendition(deps.config.ladder).name;
  const target = Math.max(deps.config.segmentSeconds, ...segments.map((s) => s.duration));
  if (segments.length > 0) {
    await deps.storage.put(
      keys.archive(streamId),
      Buffer.from(mediaPlaylist(segments, { kind: 'vod', prefix: `${archive}/`, targetDuration: target })),
      M3U8,
    );
  }
  return { segments: segments.length, durationSeconds: segments.reduce((sum, s) => sum + s.duration, 0) };
}

/** The archive while the stream is live (EVENT: grows, never shrinks). */
export async function writeEventArchive(
  deps: Pick<LiveDeps, 'storage' | 'config'>,
  streamId: string,
  segments: readonly Segment[],
) {
  const archive = archiveRendition(deps.config.ladder).name;
  const target = Math.max(deps.config.segmentSeconds, ...segments.map((s) => s.duration));
  await deps.storage.put(
    keys.archive(streamId),
    Buffer.from(mediaPlaylist(segments, { kind: 'event', prefix: `${archive}/`, targetDuration: target })),
    M3U8,
  );
}
