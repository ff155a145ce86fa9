import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { createServer, type Server, type Socket } from 'node:net';

// The one module that touches node-media-server (pinned exactly: deep imports of its 4.x layout).
// Only its RTMP protocol parser and FLV tag writer are used: no NodeMediaServer, no global broadcast
// registry, no JSON store, no admin API, and none of its logging (it prints stream paths, i.e. keys).
const require = createRequire(import.meta.url);
const Rtmp = require('node-media-server/src/protocol/rtmp.js') as RtmpConstructor;
const Flv = require('node-media-server/src/protocol/flv.js') as FlvStatics;
const nmsLogger = require('node-media-server/src/core/logger.js') as { log: (...args: unknown[]) => void };
nmsLogger.log = () => {};

interface AvPacket {
  codec_type: number;
  flags: number;
  dts: number;
  size: number;
  data: Buffer;
}
interface RtmpParser {
  parserData(buffer: Buffer): string | null;
  onConnectCallback: (req: unknown) => void;
  onPlayCallback: () => void;
  onPushCallback: () => void;
  onPacketCallback: (packet: AvPacket) => void;
  onOutputCallback: (buffer: Buffer) => void;
  onConnect: (message: unknown) => void;
  onPublish: (message: { streamName?: unknown }) => void;
  onPlay: (message: unknown) => void;
  controlHandler: () => void;
  packetAlloc: () => void;
  respondPublish: () => void;
  sendStatusMessage(sid: number, level: string, code: string, description: string): void;
  parserPacket: { header: { type: number; length: number; stream_id: number }; payload: Buffer };
  connectCmdObj?: { tcUrl?: unknown; app?: unknown };
  streamApp?: unknown;
  streamName: string;
  streamId: number;
}
type RtmpConstructor = new () => RtmpParser;
interface FlvStatics {
  createHeader(hasAudio: boolean, hasVideo: boolean): Buffer;
  createMessage(packet: AvPacket): Buffer;
}

const SET_CHUNK_SIZE = 1;
const RTMP_VERSION = 3;

/** What a packet is, for a subscriber that must start at a keyframe and resend the codec headers. */
export type TagKind = 'metadata' | 'audio-header' | 'video-header' | 'keyframe' | 'video' | 'audio';
const KINDS: Record<number, TagKind> = {
  0: 'audio-header',
  1: 'audio',
  2: 'video-header',
  3: 'keyframe',
  4: 'video',
  5: 'metadata',
};

/** The first 13 bytes of an FLV stream carrying audio and video. */
export const flvHeader = () => Flv.createHeader(true, true);

export interface PublishRequest {
  /** The RTMP application (`live` in rtmp://host/live/KEY). */
  app: string;
  /** The stream name: the stream key. Never log it. */
  key: string;
  /** A `?query` on the stream name or the connect URL (a key in a query string is refused). */
  hasQuery: boolean;
}

export type PublishDecision =
  | { accept: true; onTag: (tag: Buffer, kind: TagKind, dts: number) => void; onClose: () => void }
  | { accept: false; reason: string };

export interface RtmpServerOptions {
  host: string;
  port: number;
  publishTimeoutMs: number;
  maxChunkSize: number;
  maxMessageBytes: number;
  maxConnections: number;
  /** Decides a publish (the key check); until it answers, no media is accepted. */
  onPublish: (connection: RtmpConnection, request: PublishRequest) => Promise<PublishDecision>;
  /** A refused or broken connection: `reason` never contains the key; `byDecision`: `onPublish` refused it. */
  onRefused: (connection: RtmpConnection, reason: string, byDecision: boolean) => void;
}

/** One TCP connection speaking RTMP. */
export class RtmpConnection {
  /** Random, for logs: it names the connection before (or without) any stream id. */
  readonly id = `rtmp-${randomBytes(6).toString('hex')}`;
  readonly remoteAddress: string;
  /** Set by the owner once the publish is accepted: logs then name the stream, not the key. */
  streamId: string | undefined;
  #socket: Socket;
  #closed = false;

  constructor(socket: Socket) {
    this.#socket = socket;
    this.remoteAddress = socket.remoteAddress ?? 'unknown';
  }

  /** Ends the connection; `status` is sent first as an RTMP error status when the publish stage was reached. */
  close() {
    if (this.#closed) return;
    this.#closed = true;
    this.#socket.end();
    // A peer that never reads must not hold the socket open.
    setTimeout(() => this.#socket.destroy(), 2000).unref();
  }

  get closed() {
    return this.#closed;
  }
}

/** An RTMP listener that accepts only publishes, each checked before its first media byte is taken. */
export class RtmpServer {
  readonly #options: RtmpServerOptions;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #accepting = true;

  constructor(options: RtmpServerOptions) {
    this.#options = options;
    this.#server = createServer((socket) => this.#handle(socket));
    this.#server.maxConnections = options.maxConnections;
  }

  async listen() {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#options.port, this.#options.host, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    const address = this.#server.address();
    return typeof address === 'object' && address ? address.port : this.#options.port;
  }

  /** New publishes are refused from now on (drain); connected ones go on. */
  stopAccepting() {
    this.#accepting = false;
  }

  get connections() {
    return this.#sockets.size;
  }

  async close() {
    this.#accepting = false;
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const socket of this.#sockets) socket.destroy();
    await closed;
  }

  #handle(socket: Socket) {
    const options = this.#options;
    const connection = new RtmpConnection(socket);
    this.#sockets.add(socket);
    socket.setNoDelay(true);
    const rtmp = new Rtmp();
    let state: 'handshake' | 'connected' | 'checking' | 'publishing' | 'refused' = 'handshake';
    let decision: Extract<PublishDecision, { accept: true }> | undefined;
    let firstByte = true;

    const refuse = (reason: string, status?: string, byDecision = false) => {
      if (state === 'refused') return;
      const publishStage = state === 'checking';
      state = 'refused';
      clearTimeout(timer);
      options.onRefused(connection, reason, byDecision);
      if (publishStage && status) {
        try {
          rtmp.sendStatusMessage(rtmp.streamId, 'error', status, reason);
        } catch {
          // the socket may already be gone
        }
      }
      connection.close();
    };
    const timer = setTimeout(() => {
      if (state !== 'publishing') refuse('no publish within the time allowed');
    }, options.publishTimeoutMs);
    timer.unref();

    rtmp.onOutputCallback = (buffer) => {
      if (!socket.destroyed) socket.write(buffer);
    };
    // Playback is the edge's job: a play command is refused.
    rtmp.onPlay = () => refuse('play is not served here: watch through the edge (HLS)');
    rtmp.onConnectCallback = () => {};
    const onConnect = rtmp.onConnect.bind(rtmp);
    rtmp.onConnect = (message) => {
      if (state !== 'handshake') {
        refuse('a second connect on one connection');
        return;
      }
      onConnect(message);
      state = 'connected';
    };
    rtmp.onPushCallback = () => {};
    // A peer may ask for chunks of any size up to 2^31; past the limit it is refused, not obeyed.
    const controlHandler = rtmp.controlHandler.bind(rtmp);
    rtmp.controlHandler = () => {
      const { header, payload } = rtmp.parserPacket;
      if (header.type === SET_CHUNK_SIZE && payload.readUInt32BE(0) > options.maxChunkSize) {
        refuse(`chunk size ${payload.readUInt32BE(0)} is above ${options.maxChunkSize}`);
        return;
      }
      controlHandler();
    };
    const packetAlloc = rtmp.packetAlloc.bind(rtmp);
    rtmp.packetAlloc = () => {
      if (rtmp.parserPacket.header.length > options.maxMessageBytes) {
        throw new Error(`an RTMP message of ${rtmp.parserPacket.header.length} bytes is above the limit`);
      }
      packetAlloc();
    };
    // The publish command: answered only once the key is checked (node-media-server answers at once).
    rtmp.onPublish = (message) => {
      if (state !== 'connected') {
        refuse(state === 'handshake' ? 'publish before connect' : 'a second publish on one connection');
        return;
      }
      rtmp.streamId = rtmp.parserPacket.header.stream_id;
      const rawName = typeof message.streamName === 'string' ? message.streamName : '';
      const tcUrl = typeof rtmp.connectCmdObj?.tcUrl === 'string' ? rtmp.connectCmdObj.tcUrl : '';
      const app = typeof rtmp.streamApp === 'string' ? rtmp.streamApp : '';
      const key = rawName.split('?')[0] ?? '';
      state = 'checking';
      const request = {
        app: app.split('?')[0] ?? '',
        key,
        hasQuery: rawName.includes('?') || app.includes('?') || tcUrl.includes('?'),
      };
      options
        .onPublish(connection, request)
        .then((answer) => {
          if (state !== 'checking') {
            if (answer.accept) answer.onClose();
            return;
          }
          if (!answer.accept) {
            refuse(answer.reason, 'NetStream.Publish.BadName', true);
            return;
          }
          decision = answer;
          state = 'publishing';
          clearTimeout(timer);
          rtmp.respondPublish();
        })
        .catch((err: unknown) => refuse(`publish check failed: ${(err as Error).message}`, 'NetStream.Publish.Failed'));
    };
    rtmp.onPacketCallback = (packet) => {
      // Media before the publish is accepted is dropped: nothing is written for an unchecked key.
      if (state !== 'publishing' || !decision) return;
      const kind = KINDS[packet.flags];
      if (!kind) return;
      decision.onTag(Flv.createMessage(packet), kind, packet.dts);
    };

    socket.on('data', (data: Buffer) => {
      if (state === 'refused') return;
      if (firstByte) {
        firstByte = false;
        if (data[0] !== RTMP_VERSION) {
          refuse(`not RTMP (first byte ${data[0]})`);
          return;
        }
      }
      try {
        const error = rtmp.parserData(data);
        if (error) refuse(`protocol error: ${error}`);
      } catch (err) {
        // Garbage after the handshake makes the parser throw (AMF, URLs): the connection goes, not the process.
        refuse(`malformed RTMP: ${(err as Error).message}`);
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.#sockets.delete(socket);
      clearTimeout(timer);
      if (state === 'checking') state = 'refused';
      if (decision) {
        const done = decision;
        decision = undefined;
        done.onClose();
      }
    });
    if (!this.#accepting) refuse('this ingest is draining: publish again (another instance takes it)');
  }
}
