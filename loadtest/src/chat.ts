import { performance } from 'node:perf_hooks';
import type { SourceAddresses } from './http.ts';
import type { Recorder } from './recorder.ts';
import type { LiveStream, PoolUser } from './setup.ts';

/**
 * The chatter persona: sits in a stream's chat room (WebSocket), reads what arrives and, when
 * logged in, posts now and then. Run by artillery's ws engine; these functions open the room,
 * time the join (welcome + history), every send until its ack, and the fan-out delay of each
 * message that arrives (server timestamp → received).
 *
 * Rooms are opened as a client would: on the BFF's public socket (`/web/v1/streams/:id/chat`),
 * with the user's access token; the BFF relays to a chat instance with an internal token.
 */

export const CHAT_JOIN = 'WS join room';
export const CHAT_SEND = 'WS send message';
export const CHAT_DELIVERY = 'WS message delivery';

interface Events {
  emit(event: string, ...args: unknown[]): void;
}
interface Socket {
  on(event: 'message', listener: (data: Buffer) => void): void;
  on(event: 'close', listener: (code: number) => void): void;
  send(data: string): void;
}
interface ChatContext {
  vars: Record<string, unknown>;
  ws?: Socket;
}
interface ChatState {
  startedAt: number;
  user: PoolUser | undefined;
  pending: Map<string, number>;
  joined: boolean;
  leaving: boolean;
  ended: boolean;
  sent: number;
}

const LINES = [
  'gg',
  'nice one',
  'lol',
  'that was close',
  'first time here',
  'pog',
  'any% when?',
  'hello from the load test',
];

export function chatPersona(options: {
  /** The BFF's base URL: chatters open the public room socket there. */
  bff: string;
  pickStream: () => LiveStream;
  anyUser: () => PoolUser;
  rnd: () => number;
  recorder: Recorder;
  addresses: SourceAddresses;
}) {
  const wsBase = options.bff.replace(/^http/, 'ws');
  const { recorder, rnd } = options;
  const state = (context: ChatContext) => context.vars.chat as ChatState;
  let refs = 0;

  const end = (s: ChatState, failed: boolean) => {
    if (s.ended) return;
    s.ended = true;
    if (s.joined) recorder.userFinished(failed);
  };

  const processor = {
    /** Opens the room of a (popular) live stream, as a logged-in user (70 %) or an anonymous reader. */
    chatConnect(
      args: { target: string; options: Record<string, unknown> },
      context: ChatContext,
      done: (err?: Error) => void,
    ) {
      const stream = options.pickStream();
      const user = rnd() < 0.7 ? options.anyUser() : undefined;
      const s: ChatState = {
        startedAt: performance.now(),
        user,
        pending: new Map(),
        joined: false,
        leaving: false,
        ended: false,
        sent: 0,
      };
      context.vars.chat = s;
      args.target = `${wsBase}/web/v1/streams/${stream.id}/chat`;
      const address = options.addresses.take();
      args.options = {
        ...args.options,
        headers: user ? { authorization: `Bearer ${user.token}` } : {},
        ...(address && { localAddress: address }),
        handshakeTimeout: 10_000,
      };
      done();
    },
    /**
     * Joined once the room answers: its history, or the pong to a ping sent now. (Welcome and
     * history may arrive before this step can listen: artillery's ws engine runs the first step a
     * tick after the socket opens, so a frame in the same packet as the upgrade is not seen here.)
     */
    chatJoined(context: ChatContext, ee: Events, done: () => void) {
      const s = state(context);
      const ws = context.ws;
      if (!ws) {
        recorder.record(CHAT_JOIN, 0, { code: 'no socket' });
        done();
        return;
      }
      let waiting = true;
      const timer = setTimeout(() => {
        if (!waiting) return;
        waiting = false;
        recorder.record(CHAT_JOIN, 0, { code: 'no answer in 10 s' });
        done();
      }, 10_000);
      ws.on('message', (data) => {
        let frame: {
          type?: string;
          ref?: string;
          code?: string;
          message?: string;
          items?: { type: string; at: number }[];
        };
        try {
          frame = JSON.parse(data.toString());
        } catch {
          return;
        }
        if ((frame.type === 'history' || (frame.type === 'pong' && frame.ref === 'join')) && waiting) {
          waiting = false;
          clearTimeout(timer);
          const ms = performance.now() - s.startedAt;
          ee.emit('histogram', `lat|${CHAT_JOIN}`, ms);
          recorder.record(CHAT_JOIN, 200);
          s.joined = true;
          recorder.userStarted();
          done();
        } else if (frame.type === 'items') {
          const now = Date.now();
          for (const item of frame.items ?? []) {
            if (item.type === 'message') ee.emit('histogram', `lat|${CHAT_DELIVERY}`, Math.max(0, now - item.at));
          }
        } else if ((frame.type === 'ack' || frame.type === 'error') && frame.ref && s.pending.has(frame.ref)) {
          const ms = performance.now() - s.pending.get(frame.ref)!;
          s.pending.delete(frame.ref);
          ee.emit('histogram', `lat|${CHAT_SEND}`, ms);
          if (frame.type === 'ack') recorder.record(CHAT_SEND, 200);
          else recorder.record(CHAT_SEND, 400, { code: frame.code ?? 'error', message: frame.message ?? '' });
        } else if (frame.type === 'error' && waiting) {
          waiting = false;
          clearTimeout(timer);
          recorder.record(CHAT_JOIN, 400, { code: frame.code ?? 'error', message: frame.message ?? '' });
          done();
        }
      });
      ws.send(JSON.stringify({ type: 'ping', ref: 'join' }));
      ws.on('close', (code) => {
        if (waiting) {
          waiting = false;
          clearTimeout(timer);
          recorder.record(CHAT_JOIN, 0, { code: `closed ${code}` });
          done();
        }
        if (!s.leaving && s.joined) {
          recorder.record(CHAT_JOIN, 0, { code: `closed ${code} while in the room` });
          end(s, true);
        }
      });
    },
    /** A logged-in chatter posts about every other turn; readers only read. */
    chatPost(context: ChatContext, _ee: Events, done: () => void) {
      const s = state(context);
      if (s.user && s.joined && !s.ended && context.ws && rnd() < 0.5) {
        const ref = `r${++refs}`;
        s.pending.set(ref, performance.now());
        s.sent++;
        context.ws.send(JSON.stringify({ type: 'send', text: LINES[Math.floor(rnd() * LINES.length)], ref }));
      }
      done();
    },
    /** Leaves; a send still without ack after the last think time is counted as unanswered. */
    chatLeave(context: ChatContext, _ee: Events, done: () => void) {
      const s = state(context);
      s.leaving = true;
      for (const _ of s.pending) recorder.record(CHAT_SEND, 0, { code: 'no ack before leaving' });
      s.pending.clear();
      end(s, false);
      done();
    },
  };

  const scenario = {
    name: 'chatter',
    engine: 'ws',
    flow: [
      { connect: { function: 'chatConnect' } },
      { function: 'chatJoined' },
      { loop: [{ think: 4, jitter: '50%' }, { function: 'chatPost' }], count: 4 },
      { think: 2 },
      { function: 'chatLeave' },
    ],
  };
  return { processor, scenario };
}
