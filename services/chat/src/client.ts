import { randomUUID } from 'node:crypto';
import { chat } from '@livehouse/contracts';
import type { WebSocket } from 'ws';
import type { LogEntry } from './room-log.ts';

export interface ClientLimits {
  /** Bytes held for this client (socket buffer + queued items) before it is dropped as too slow. */
  sendBufferBytes: number;
  /** Above this, shared frames are not written; items queue and go out later in one frame. */
  sendHighWaterBytes: number;
}

export interface ChatUser {
  id: string;
  moderator: boolean;
}

/**
 * One WebSocket in one room, on the sending side. Shared frames (serialized once per room flush)
 * are written as they are while the socket keeps up; once its buffer passes the high-water mark, the
 * items queue (as references to the shared JSON strings) and go out later as one frame. Past
 * `sendBufferBytes` the client is closed with 4008: a slow reader never grows the server's memory.
 */
export class ChatClient {
  readonly ws: WebSocket;
  readonly user: ChatUser | undefined;
  /**
   * Who this socket is as a viewer: the user, else the client's address, else the socket itself (a
   * direct internal caller). Sockets of one holder count once, so one client cannot inflate a count.
   */
  readonly viewer: string;
  readonly #limits: ClientLimits;
  /** Joining: items that arrive while the history is read wait here. */
  syncing: LogEntry[] | undefined = [];
  #queued: string[] = [];
  #queuedBytes = 0;
  #closing = false;
  /** Heartbeat: false once pinged, true again on pong. */
  alive = true;

  constructor(ws: WebSocket, user: ChatUser | undefined, limits: ClientLimits, address?: string) {
    this.ws = ws;
    this.user = user;
    this.viewer = user ? `user:${user.id}` : address ? `address:${address}` : `socket:${randomUUID()}`;
    this.#limits = limits;
  }

  get open() {
    return !this.#closing && this.ws.readyState === this.ws.OPEN;
  }

  get lagging() {
    return this.#queued.length > 0;
  }

  /** A frame shared by the whole room. Returns true when the client is now lagging (items queued). */
  deliver(frame: Buffer, items: readonly string[], itemsBytes: number): boolean {
    if (!this.open) return false;
    if (this.#queued.length === 0 && this.ws.bufferedAmount <= this.#limits.sendHighWaterBytes) {
      this.ws.send(frame, { binary: false });
      return false;
    }
    for (const item of items) this.#queued.push(item);
    this.#queuedBytes += itemsBytes;
    if (this.ws.bufferedAmount + this.#queuedBytes > this.#limits.sendBufferBytes) {
      this.close(chat.CloseCode.tooSlow, 'too slow: reconnect with ?since=<last id>');
      return false;
    }
    return true;
  }

  /** Sends the queued items as one frame once the socket has drained. Returns true while still lagging. */
  catchUp(): boolean {
    if (!this.open) return false;
    if (this.#queued.length === 0) return false;
    if (this.ws.bufferedAmount > this.#limits.sendHighWaterBytes) return true;
    const items = this.#queued;
    this.#queued = [];
    this.#queuedBytes = 0;
    this.ws.send(`{"type":"items","items":[${items.join(',')}]}`);
    return false;
  }

  /** A frame for this client only (welcome, history, ack, error, pong). */
  send(frame: chat.ServerFrame | string) {
    if (!this.open) return;
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
    if (this.ws.bufferedAmount > this.#limits.sendBufferBytes) {
      this.close(chat.CloseCode.tooSlow, 'too slow: reconnect with ?since=<last id>');
    }
  }

  /**
   * Closes with a code; a socket that cannot even take the close frame (a stalled reader) is
   * destroyed shortly after, which frees what it held.
   */
  close(code: number, reason: string) {
    if (this.#closing) return;
    this.#closing = true;
    this.#queued = [];
    this.#queuedBytes = 0;
    this.syncing = undefined;
    try {
      this.ws.close(code, reason);
    } catch {
      this.ws.terminate();
      return;
    }
    setTimeout(() => this.ws.terminate(), 1000).unref();
  }
}
