import { hostname } from 'node:os';
import { AppError, type Clients, type InternalAuth } from '@livehouse/kit';
import type { ObjectStorage } from '@livehouse/kit/storage';
import type { FastifyBaseLogger } from 'fastify';
import type { Kysely } from 'kysely';
import { Counter, Gauge, type Registry } from 'prom-client';
import { request } from 'undici';
import type { IngestConfig } from './config.ts';
import type { IngestDatabase } from './db.ts';
import { grabFrame } from './ffmpeg.ts';
import * as repo from './ingest.repository.ts';
import {
  archiveRendition,
  endLivePlaylists,
  finalizeArchive,
  keys,
  Live,
  type LiveDeps,
  recoverWorkDir,
} from './live.ts';
import { type PublishDecision, type PublishRequest, type RtmpConnection, RtmpServer } from './rtmp.adapter.ts';

export interface IngestDeps {
  config: IngestConfig;
  db: Kysely<IngestDatabase>;
  storage: ObjectStorage;
  log: FastifyBaseLogger;
  contents: Clients['contents'];
  /** Base URL of the thumbnail service (live frames are PUT there as JPEG). */
  thumbnailUrl: string | undefined;
  internalAuth: InternalAuth;
  registry: Registry;
}

const KEY_FORMAT = /^[A-Za-z0-9_-]{1,200}$/;

/** Why a publish was refused: a closed set, so the metric's labels stay bounded (and never hold a key). */
export type RefusalReason =
  | 'bad_key'
  | 'no_key'
  | 'key_in_query'
  | 'already_live'
  | 'draining'
  | 'wrong_app'
  | 'unavailable'
  | 'protocol';

class Refusal extends Error {
  readonly reason: RefusalReason;
  constructor(reason: RefusalReason, message: string) {
    super(message);
    this.reason = reason;
  }
}

function ingestMetrics(registry: Registry) {
  return {
    slots: new Gauge({
      name: 'ingest_transcode_slots',
      help: 'Transcode slots of this instance',
      registers: [registry],
    }),
    slotsUsed: new Gauge({
      name: 'ingest_transcode_slots_used',
      help: 'Transcode slots held by live streams (the rest are passthrough)',
      registers: [registry],
    }),
    live: new Gauge({
      name: 'ingest_live_streams',
      help: 'Live streams on this instance by state',
      labelNames: ['state', 'mode'],
      registers: [registry],
    }),
    speed: new Gauge({
      name: 'ingest_ffmpeg_speed',
      help: "ffmpeg's speed per live stream (1 = real time; below 1 it falls behind)",
      labelNames: ['stream'],
      registers: [registry],
    }),
    restarts: new Counter({
      name: 'ingest_ffmpeg_restarts_total',
      help: 'ffmpeg restarts mid-stream',
      registers: [registry],
    }),
    refused: new Counter({
      name: 'ingest_publishes_refused_total',
      help: 'Refused RTMP connections and publishes by reason',
      labelNames: ['reason'],
      registers: [registry],
    }),
    fallbacks: new Counter({
      name: 'ingest_ladder_fallbacks_total',
      help: 'Ladders dropped to passthrough because ffmpeg fell behind its input',
      registers: [registry],
    }),
    publishes: new Counter({ name: 'ingest_publishes_total', help: 'Accepted publishes', registers: [registry] }),
    segments: new Counter({
      name: 'ingest_segments_total',
      help: 'Segments stored by rendition',
      labelNames: ['rendition'],
      registers: [registry],
    }),
    segmentBytes: new Counter({
      name: 'ingest_segment_bytes_total',
      help: 'Bytes of stored segments',
      registers: [registry],
    }),
    thumbnails: new Counter({
      name: 'ingest_thumbnails_total',
      help: 'Live frames sent to the thumbnail service by outcome',
      labelNames: ['outcome'],
      registers: [registry],
    }),
  };
}

/**
 * The RTMP side of ingest: publishes checked against contents, one `Live` per stream, the grace
 * window, transcode slots, heartbeats, orphans (streams of a crashed instance) and live thumbnails.
 */
export class Ingest {
  readonly instance: string;
  readonly rtmp: RtmpServer;
  readonly #deps: IngestDeps;
  readonly #byChannel = new Map<string, Live>();
  readonly #byStream = new Map<string, Live>();
  readonly #grace = new Map<string, NodeJS.Timeout>();
  readonly #locks = new Map<string, Promise<unknown>>();
  readonly #connections = new Map<string, RtmpConnection>();
  readonly #ending = new Set<Promise<unknown>>();
  readonly #metrics: ReturnType<typeof ingestMetrics>;
  #timers: NodeJS.Timeout[] = [];
  #draining = false;
  #lastFallback = 0;
  port = 0;

  constructor(deps: IngestDeps) {
    this.#deps = deps;
    this.instance = deps.config.instanceId || hostname();
    this.#metrics = ingestMetrics(deps.registry);
    this.#metrics.slots.set(deps.config.transcodeSlots);
    const rtmp = deps.config.rtmp;
    this.rtmp = new RtmpServer({
      host: rtmp.host,
      port: rtmp.port,
      publishTimeoutMs: rtmp.publishTimeoutMs,
      maxChunkSize: rtmp.maxChunkSize,
      maxMessageBytes: rtmp.maxMessageBytes,
      maxConnections: rtmp.maxPublishers,
      onPublish: (connection, req) => this.#publish(connection, req),
      onRefused: (connection, reason, byDecision) => {
        if (!byDecision) this.#metrics.refused.inc({ reason: 'protocol' });
        deps.log.warn(
          {
            connection: connection.id,
            remote: connection.remoteAddress,
            streamId: connection.streamId ?? null,
            reason,
          },
          'RTMP connection refused',
        );
      },
    });
  }

  get #liveDeps(): LiveDeps {
    const { config, db, storage, log } = this.#deps;
    return {
      config,
      db,
      storage,
      log,
      onSpeed: (streamId, speed) => this.#metrics.speed.set({ stream: streamId }, speed),
      onRestart: () => this.#metrics.restarts.inc(),
      mayFallBack: () => {
        // The others' speed windows must first see the load without the dropped ladder.
        const now = Date.now();
        if (now - this.#lastFallback < config.ladderFallback.windowSeconds * 1500) return false;
        this.#lastFallback = now;
        return true;
      },
      onFallback: () => {
        this.#metrics.fallbacks.inc();
        this.#updateGauges();
      },
      onSegment: (_streamId, rendition, bytes) => {
        this.#metrics.segments.inc({ rendition });
        this.#metrics.segmentBytes.inc(bytes);
      },
    };
  }

  async start() {
    this.port = await this.rtmp.listen();
    const { config } = this.#deps;
    this.#timers.push(setInterval(() => void this.#janitor(), config.heartbeatMs));
    if (config.thumbnailIntervalMs > 0) {
      this.#timers.push(setInterval(() => void this.#thumbnails(), config.thumbnailIntervalMs));
    }
    for (const t of this.#timers) t.unref();
    // Streams this instance held before a crash end after their grace window: check right away too.
    void this.#janitor();
    return this;
  }

  get storage() {
    return this.#deps.storage;
  }

  /** Live streams on this instance (tests, metrics, drain). */
  get lives(): ReadonlyMap<string, Live> {
    return this.#byStream;
  }

  #serial<T>(key: string, task: () => Promise<T>) {
    const prev = this.#locks.get(key) ?? Promise.resolve();
    const next = prev.then(task, task);
    const tail = next.catch(() => {});
    this.#locks.set(key, tail);
    void tail.then(() => {
      if (this.#locks.get(key) === tail) this.#locks.delete(key);
    });
    return next;
  }

  async #publish(connection: RtmpConnection, req: PublishRequest): Promise<PublishDecision> {
    try {
      return await this.#admit(connection, req);
    } catch (err) {
      const refusal =
        err instanceof Refusal ? err : new Refusal('unavailable', 'the stream key could not be checked: try again');
      if (!(err instanceof Refusal)) this.#deps.log.error({ err, connection: connection.id }, 'publish check failed');
      this.#metrics.refused.inc({ reason: refusal.reason });
      return { accept: false, reason: refusal.message };
    }
  }

  async #admit(connection: RtmpConnection, req: PublishRequest): Promise<PublishDecision> {
    if (this.#draining)
      throw new Refusal('draining', 'this ingest is draining: publish again (another instance takes it)');
    if (req.hasQuery)
      throw new Refusal('key_in_query', 'stream key in a URL query: put the key in the stream name only');
    if (req.app !== this.#deps.config.rtmp.app) throw new Refusal('wrong_app', 'unknown RTMP application');
    if (req.key === '') throw new Refusal('no_key', 'no stream key: publish to rtmp://host/live/<stream key>');
    if (!KEY_FORMAT.test(req.key)) throw new Refusal('bad_key', 'stream key refused');
    let channelId: string;
    try {
      ({ channelId } = await this.#deps.contents.verifyStreamKey({ body: { key: req.key } }));
    } catch (err) {
      if (err instanceof AppError && err.code === 'not_found') throw new Refusal('bad_key', 'stream key refused');
      throw err;
    }
    return this.#serial(channelId, async () => {
      const current = this.#byChannel.get(channelId);
      if (current?.state === 'publishing') {
        connection.streamId = current.streamId;
        throw new Refusal('already_live', 'the channel is already live from another publisher');
      }
      if (this.#draining) throw new Refusal('draining', 'this ingest is draining');
      const live = current ?? (await this.#open(channelId));
      connection.streamId = live.streamId;
      const timer = this.#grace.get(live.streamId);
      if (timer) {
        clearTimeout(timer);
        this.#grace.delete(live.streamId);
      }
      await live.attach();
      this.#connections.set(live.streamId, connection);
      this.#metrics.publishes.inc();
      this.#updateGauges();
      this.#deps.log.info(
        {
          streamId: live.streamId,
          channelId,
          connection: connection.id,
          transcoded: live.transcoded,
          resumed: !!current,
        },
        'publish accepted',
      );
      return {
        accept: true,
        onTag: (tag, kind, dts) => live.onTag(tag, kind, dts),
        onClose: () => void this.#publisherGone(live, connection),
      };
    });
  }

  /** The channel's stream goes live in contents; this instance takes it (over, after another instance died). */
  async #open(channelId: string) {
    const { id: streamId } = await this.#deps.contents.goLive({ params: { id: channelId } });
    const { db, config } = this.#deps;
    const previous = await repo.findLive(db, streamId);
    const held = previous && previous.state !== 'ended';
    const transcoded = held ? previous.transcoded : this.#slotsUsed() < config.transcodeSlots;
    await repo.claimLive(db, { streamId, channelId, instance: this.instance, transcoded, now: new Date() });
    // A run of a crashed process on this machine may have finished segments it never stored: they go
    // into the archive now, once, before the new run continues its numbering.
    if (held) await recoverWorkDir(this.#deps, streamId, archiveRendition(config.ladder).name);
    const archived = held ? await repo.archiveSegments(db, streamId) : [];
    const live = new Live(this.#liveDeps, {
      streamId,
      channelId,
      transcoded,
      epoch: held ? previous.epoch : 0,
      archived,
    });
    this.#byChannel.set(channelId, live);
    this.#byStream.set(streamId, live);
    live.events.once('master', () => void this.#thumbnail(live));
    if (!transcoded) this.#deps.log.info({ streamId }, 'no transcode slot free: passthrough (source only)');
    return live;
  }

  #slotsUsed() {
    let used = 0;
    for (const live of this.#byStream.values()) if (live.transcoded) used++;
    return used;
  }

  #updateGauges() {
    this.#metrics.slotsUsed.set(this.#slotsUsed());
    this.#metrics.live.reset();
    for (const live of this.#byStream.values()) {
      this.#metrics.live.inc({ state: live.state, mode: live.transcoded ? 'ladder' : 'passthrough' });
    }
  }

  async #publisherGone(live: Live, connection: RtmpConnection) {
    await this.#serial(live.channelId, async () => {
      if (this.#connections.get(live.streamId) !== connection) return;
      this.#connections.delete(live.streamId);
      await live.detach();
      this.#updateGauges();
      this.#deps.log.info(
        { streamId: live.streamId, graceMs: this.#deps.config.graceMs },
        'publisher gone: grace window',
      );
      if (this.#draining) return;
      const timer = setTimeout(() => this.#track(this.#end(live)), this.#deps.config.graceMs);
      timer.unref();
      this.#grace.set(live.streamId, timer);
    });
  }

  #track(task: Promise<unknown>) {
    this.#ending.add(task);
    void task.finally(() => this.#ending.delete(task));
  }

  /** The grace window is over: the stream ends, its archive becomes a VOD registered in contents. */
  #end(live: Live) {
    return this.#serial(live.channelId, async () => {
      if (live.state === 'publishing' || !this.#byStream.has(live.streamId)) return;
      this.#grace.delete(live.streamId);
      await live.end();
      this.#byChannel.delete(live.channelId);
      this.#byStream.delete(live.streamId);
      this.#metrics.speed.remove({ stream: live.streamId });
      this.#updateGauges();
      await this.#finish(live.streamId).catch((err: unknown) =>
        // The janitor (here or on another instance) retries: the row is still open.
        this.#deps.log.error({ err, streamId: live.streamId }, 'stream not finalized: retried later'),
      );
    });
  }

  /** VOD playlist from the stored segments, then the stream ends in contents and gets its archive. */
  async #finish(streamId: string) {
    const { db, contents, log } = this.#deps;
    const archive = await finalizeArchive(this.#deps, streamId);
    await contents.ingestEnded({ params: { id: streamId } });
    if (archive.segments > 0) {
      await contents.registerArchive({
        params: { id: streamId },
        body: { durationSeconds: Math.round(archive.durationSeconds * 1000) / 1000 },
      });
    }
    await repo.markEnded(db, streamId, archive.durationSeconds);
    log.info({ streamId, archiveSeconds: archive.durationSeconds, segments: archive.segments }, 'stream ended');
  }

  /** Heartbeats for our streams; streams of vanished instances (no heartbeat for a grace window) are ended. */
  async #janitor() {
    const { db, config, log } = this.#deps;
    try {
      const own = [...this.#byStream.keys()];
      await repo.heartbeat(db, own);
      if (this.#draining) return;
      const before = new Date(Date.now() - config.graceMs - config.heartbeatMs);
      for (const orphan of await repo.findOrphans(db, before, own)) {
        await this.#serial(orphan.channel_id, async () => {
          if (this.#byStream.has(orphan.stream_id)) return;
          const recovered = await recoverWorkDir(this.#deps, orphan.stream_id, archiveRendition(config.ladder).name);
          log.warn({ streamId: orphan.stream_id, instance: orphan.instance, recovered }, 'orphaned stream: ending it');
          await endLivePlaylists(this.#deps, orphan.stream_id);
          await this.#finish(orphan.stream_id);
        });
      }
    } catch (err) {
      log.error({ err }, 'ingest janitor failed');
    }
  }

  async #thumbnails() {
    for (const live of this.#byStream.values()) if (live.state === 'publishing') await this.#thumbnail(live);
  }

  /** A frame of the newest segment to the thumbnail service (best effort: a miss costs nothing). */
  async #thumbnail(live: Live) {
    const { thumbnailUrl, internalAuth, config, log } = this.#deps;
    const file = live.newestFrameSource;
    if (!thumbnailUrl || !file || config.thumbnailIntervalMs === 0) return;
    try {
      const jpeg = await grabFrame(config.ffmpeg, file);
      const token = await internalAuth.sign({ service: 'ingest' });
      const res = await request(`${thumbnailUrl}/streams/${live.streamId}/frame`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'image/jpeg' },
        body: jpeg,
        headersTimeout: 10_000,
        bodyTimeout: 10_000,
      });
      await res.body.dump();
      this.#metrics.thumbnails.inc({ outcome: res.statusCode < 300 ? 'ok' : 'refused' });
      if (res.statusCode >= 300)
        log.warn({ streamId: live.streamId, status: res.statusCode }, 'live thumbnail refused');
    } catch (err) {
      this.#metrics.thumbnails.inc({ outcome: 'error' });
      log.warn({ err, streamId: live.streamId }, 'live thumbnail not made');
    }
  }

  /**
   * Resolves when `rendition`'s segment `seq` of the stream exists (the origin's blocking reload),
   * false after `timeoutMs`. Streams on this instance are watched; others are polled in storage.
   */
  async waitForSegment(streamId: string, rendition: string, seq: number, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    const live = this.#byStream.get(streamId);
    if (live) {
      return new Promise<boolean>((resolve) => {
        const done = (ok: boolean) => {
          clearTimeout(timer);
          live.events.off('segment', onSegment);
          live.events.off('ended', onEnded);
          resolve(ok);
        };
        const onSegment = (name: string, n: number) => {
          if (name === rendition && n >= seq) done(true);
        };
        const onEnded = () => done(false);
        const timer = setTimeout(() => done(false), timeoutMs);
        live.events.on('segment', onSegment);
        live.events.on('ended', onEnded);
        // It may have landed while we set up.
        void this.#deps.storage.get(keys.segment(streamId, rendition, seq)).then((b) => b && done(true));
      });
    }
    while (Date.now() < deadline) {
      if (await this.#deps.storage.get(keys.segment(streamId, rendition, seq))) return true;
      await new Promise((r) => setTimeout(r, 200));
    }
    return false;
  }

  /**
   * SIGTERM: new publishes are refused; connected streams get `drainMs` to end. Past that their
   * publishers are cut; each stream stays open (reconnecting) so that a republish, which the load
   * balancer sends to another instance, resumes it there, and an instance's janitor ends it otherwise.
   */
  async stop() {
    this.#draining = true;
    this.rtmp.stopAccepting();
    const { config, log } = this.#deps;
    const until = Date.now() + config.drainMs;
    while (this.#connections.size > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    if (this.#connections.size > 0)
      log.warn({ streams: this.#connections.size }, 'drain bound reached: cutting publishers');
    await this.rtmp.close();
    for (const t of this.#timers) clearInterval(t);
    for (const t of this.#grace.values()) clearTimeout(t);
    await Promise.allSettled([...this.#ending]);
    // Ended streams are finished; the others' last segments are stored and their rows left for a takeover.
    await Promise.allSettled([...this.#byStream.values()].map((live) => live.end()));
    await repo.heartbeat(this.#deps.db, [...this.#byStream.keys()]).catch(() => {});
  }
}
