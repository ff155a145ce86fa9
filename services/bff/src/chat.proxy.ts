import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { clientAddress, type InternalAuth, type RateLimit, type RateLimiter } from '@livehouse/kit';
import type { FastifyBaseLogger } from 'fastify';
import { WebSocket, WebSocketServer } from 'ws';
import type { AccessTokenVerifier } from './access-token.ts';

const ROUTE = /^\/(?:app|web)\/v1\/streams\/([0-9a-fA-F-]{36})\/chat(?:\?(.*))?$/;
/** What the BFF may hold for one slow client before giving up on it (chat's own limit is the same). */
const MAX_BUFFERED = 256 * 1024;

function refuse(socket: Duplex, status: number, code: string, message: string) {
  // The client may be gone already (reset, or closed while we verified its token).
  if (socket.destroyed || !socket.writable) return;
  const body = JSON.stringify({ error: { code, message, requestId: '' } });
  socket.end(
    `HTTP/1.1 ${status} ${code}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

/** Close codes a peer may send; the reserved ones (1005, 1006, 1015) become "going away". */
const sendable = (code: number) =>
  (code >= 1000 && code <= 1014 && ![1004, 1005, 1006].includes(code)) || (code >= 3000 && code <= 4999);

/**
 * The public chat socket: `GET /{app,web}/v1/streams/:id/chat[?since=<id>]` upgraded to a WebSocket.
 * The BFF authenticates the user (an `Authorization: Bearer <access token>` header, or for browsers,
 * which cannot set headers on a WebSocket, the subprotocol `bearer.<token>`), opens the same socket on
 * a chat instance with an internal token naming the user, and relays frames and close codes both ways.
 * Without a token the reader is anonymous (may read, not post). The protocol is chat's: services/chat/PROTOCOL.md.
 */
export function chatProxy(options: {
  chatUrl: string;
  verifier: AccessTokenVerifier;
  internalAuth: InternalAuth;
  limiter: RateLimiter;
  perIp: RateLimit;
  /** The same trusted-proxy rule as Fastify's `request.ip` (config `http.trustProxy`). */
  trustProxy: (address: string, hop: number) => boolean;
  log: FastifyBaseLogger;
}) {
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: 64 * 1024,
    handleProtocols: (protocols) => (protocols.has('livehouse.chat') ? 'livehouse.chat' : false),
  });
  const base = options.chatUrl.replace(/^http/, 'ws');

  async function onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer) {
    const match = ROUTE.exec(req.url ?? '');
    if (!match) return refuse(socket, 404, 'route_not_found', 'no WebSocket here: use /{app,web}/v1/streams/:id/chat');
    const [, streamId, query] = match;
    const since = new URLSearchParams(query ?? '').get('since');
    const ip = clientAddress(req, options.trustProxy);
    const limited = await options.limiter.hit(`bff:ip:${ip}`, options.perIp);
    if (!limited.allowed) return refuse(socket, 429, 'rate_limited', 'too many requests from your address');

    const protocols = String(req.headers['sec-websocket-protocol'] ?? '')
      .split(',')
      .map((p) => p.trim());
    const bearer = protocols.find((p) => p.startsWith('bearer.'))?.slice(7);
    const authorization = req.headers.authorization ?? (bearer ? `Bearer ${bearer}` : undefined);
    let user: Awaited<ReturnType<AccessTokenVerifier['verify']>> | undefined;
    if (authorization) {
      try {
        user = await options.verifier.verify(authorization);
      } catch (err) {
        const e = err as { code?: string; message?: string };
        return refuse(socket, 401, e.code ?? 'token_invalid', e.message ?? 'the access token is invalid');
      }
    }

    const token = await options.internalAuth.sign({
      service: 'bff',
      ...(user && { user: { id: user.id, roles: user.roles } }),
    });
    // The client may have left while we checked its token: then open nothing.
    if (socket.destroyed) return;
    const path = `/rooms/${streamId}/ws${since ? `?since=${encodeURIComponent(since)}` : ''}`;
    const upstream = new WebSocket(base + path, {
      // chat caps sockets per address and counts anonymous readers by it.
      headers: { authorization: `Bearer ${token}`, 'livehouse-client-ip': ip },
      handshakeTimeout: 5000,
      // chat's heartbeat pings must reach the client itself: a client that stops reading stops answering.
      autoPong: false,
      maxPayload: 4 * 1024 * 1024,
    });
    // Until the client's socket is a WebSocket, its going away must end the upstream too, or the
    // chat connection (and a viewer) stays open forever.
    let relaying = false;
    socket.once('close', () => {
      if (!relaying) upstream.terminate();
    });
    upstream.once('unexpected-response', (_r, res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => {
        body += chunk;
      });
      res.on('end', () => {
        const error = (() => {
          try {
            return (JSON.parse(body) as { error?: { code?: string; message?: string } }).error;
          } catch {
            return undefined;
          }
        })();
        const status = res.statusCode ?? 502;
        refuse(
          socket,
          status >= 500 ? 502 : status,
          error?.code ?? 'upstream_error',
          error?.message ?? 'chat refused the connection',
        );
      });
    });
    upstream.on('error', (err) => {
      if (upstream.readyState === WebSocket.CONNECTING)
        refuse(socket, 503, 'service_unavailable', 'chat is unavailable');
      options.log.debug({ err }, 'chat upstream error');
    });
    upstream.once('open', () => {
      if (socket.destroyed) return upstream.terminate();
      wss.handleUpgrade(req, socket, head, (client) => {
        relaying = true;
        upstream.on('message', (data, isBinary) => {
          if (client.bufferedAmount > MAX_BUFFERED) {
            client.close(4008, 'too slow: reconnect with ?since=');
            upstream.close(1000);
            return;
          }
          client.send(data, { binary: isBinary });
        });
        client.on('message', (data, isBinary) => {
          if (upstream.readyState === WebSocket.OPEN) upstream.send(data, { binary: isBinary });
        });
        upstream.on('ping', (data) => client.readyState === WebSocket.OPEN && client.ping(data));
        client.on('pong', (data) => upstream.readyState === WebSocket.OPEN && upstream.pong(data));
        upstream.on('close', (code, reason) => {
          if (client.readyState === WebSocket.OPEN) client.close(sendable(code) ? code : 1012, reason);
        });
        client.on('close', (code, reason) => {
          if (upstream.readyState === WebSocket.OPEN) upstream.close(sendable(code) ? code : 1000, reason);
        });
        client.on('error', () => upstream.terminate());
      });
    });
  }

  return {
    onUpgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      // Node hands an upgrade's socket over without its error listener: a reset from the client
      // would otherwise be an unhandled 'error' event and end the process.
      socket.on('error', (err) => options.log.debug({ err }, 'chat client socket error'));
      onUpgrade(req, socket, head).catch((err: unknown) => {
        options.log.error({ err }, 'chat upgrade failed');
        refuse(socket, 500, 'internal_error', 'something went wrong on our side');
      });
    },
    /** On shutdown: tell every client to reconnect elsewhere. */
    close() {
      for (const client of wss.clients) client.close(1012, 'the BFF is restarting: reconnect with ?since=');
    },
  };
}
