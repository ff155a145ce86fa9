import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import fastifyCookie from '@fastify/cookie';
import type { FastifyBaseLogger } from 'fastify';
import { type RawData, WebSocket, WebSocketServer } from 'ws';
import type { Names } from './names.ts';
import { ACCESS_COOKIE, accessClaims } from './session.ts';

const ROUTE = /^\/streams\/([0-9a-fA-F-]{36})\/chat(?:\?(.*))?$/;
const MAX_BUFFERED = 1024 * 1024;

function refuse(socket: Duplex, status: number, code: string, message: string) {
  const body = JSON.stringify({ error: { code, message, requestId: '' } });
  socket.end(
    `HTTP/1.1 ${status} ${code}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

const sendable = (code: number) =>
  (code >= 1000 && code <= 1014 && ![1004, 1005, 1006].includes(code)) || (code >= 3000 && code <= 4999);

/** The BFF refused the upgrade with this status: 4000 + status tells the island (4401: refresh and retry). */
const refusedCode = (status: number) => (status >= 400 && status < 500 ? 4000 + status : 1011);

/**
 * The browser's chat socket: `/streams/:id/chat` on the web origin, so the HttpOnly session cookie
 * goes with it and page JavaScript never holds a token. Only our own pages may open it (Origin is
 * checked: cookies make cross-site WebSocket hijacking possible otherwise). It opens the BFF's public
 * socket with the user's access token and relays frames and close codes both ways.
 */
export function chatProxy(options: { bffUrl: string; names: Names; log: FastifyBaseLogger }) {
  const wss = new WebSocketServer({ noServer: true, maxPayload: 8 * 1024 });
  const base = options.bffUrl.replace(/^http/, 'ws');

  function onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer) {
    socket.on('error', () => socket.destroy());
    const match = ROUTE.exec(req.url ?? '');
    if (!match) return refuse(socket, 404, 'route_not_found', 'no WebSocket here: use /streams/:id/chat');
    const [, streamId, query] = match;
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== `http://${req.headers.host}` && origin !== `https://${req.headers.host}`) {
      return refuse(socket, 403, 'forbidden', 'cross-site WebSocket connections are refused');
    }
    const since = new URLSearchParams(query ?? '').get('since');
    const cookies = (fastifyCookie as unknown as { parse(header: string): Record<string, string> }).parse(
      req.headers.cookie ?? '',
    );
    const token = cookies[ACCESS_COOKIE];
    const claims = token ? accessClaims(token) : null;
    // An expired token would be refused: read anonymously instead, and tell the island to refresh.
    const usable = claims && claims.exp * 1000 > Date.now() ? token : undefined;
    const qs = since && /^\d{1,15}$/.test(since) ? `?since=${since}` : '';
    const upstream = new WebSocket(`${base}/web/v1/streams/${streamId}/chat${qs}`, ['livehouse.chat'], {
      headers: {
        ...(usable && { authorization: `Bearer ${usable}` }),
        'x-forwarded-for': req.socket.remoteAddress ?? '',
      },
      handshakeTimeout: 10_000,
    });
    const early: RawData[] = [];
    let client: WebSocket | undefined;

    upstream.on('unexpected-response', (_request, response) => {
      response.resume();
      const status = response.statusCode ?? 502;
      if (client) client.close(refusedCode(status));
      else refuse(socket, status, status === 404 ? 'not_found' : 'service_unavailable', 'chat refused the connection');
      upstream.terminate();
    });
    upstream.on('error', (err) => {
      options.log.debug({ err }, 'chat upstream failed');
      if (client) client.close(1011);
      else if (!socket.destroyed) refuse(socket, 503, 'service_unavailable', 'chat is unavailable');
    });
    upstream.on('open', () => {
      wss.handleUpgrade(req, socket, head, (ws) => {
        client = ws;
        ws.on('error', () => ws.terminate());
        for (const data of early.splice(0)) upstream.send(data);
        ws.on('message', (data, isBinary) => {
          if (upstream.readyState === WebSocket.OPEN) upstream.send(data, { binary: isBinary });
        });
        ws.on('close', (code) => upstream.close(sendable(code) ? code : 1000));
        // Frames stay in order while their names are looked up.
        let queue = Promise.resolve();
        upstream.on('message', (data, isBinary) => {
          if (isBinary) return;
          queue = queue.then(async () => {
            const text = await options.names.annotate(String(data));
            if (ws.readyState !== WebSocket.OPEN) return;
            if (ws.bufferedAmount > MAX_BUFFERED) return ws.close(4008);
            ws.send(text);
          });
        });
        upstream.on('close', (code) => ws.close(sendable(code) ? code : 1011));
        if (token && !usable) ws.close(4401);
      });
    });
  }

  return {
    onUpgrade,
    async close() {
      for (const ws of wss.clients) ws.close(1012);
      wss.close();
    },
  };
}
