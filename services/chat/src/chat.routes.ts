import { isIP, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import websocket from '@fastify/websocket';
import { chat } from '@livehouse/contracts';
import type { ServiceApp } from '@livehouse/kit';
import type { FastifyRequest } from 'fastify';
import type { ChatConfig } from './chat.config.ts';
import type { Admission, ChatHub } from './chat.service.ts';

const items = (json: string[]) => JSON.parse(`[${json.join(',')}]`) as chat.Item[];

/** The end client's address, as the BFF forwards it (only internal callers reach chat); IPv4 unmapped. */
function clientAddress(request: FastifyRequest): string | undefined {
  const header = request.headers['livehouse-client-ip'];
  const address = typeof header === 'string' ? header.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '') : '';
  return isIP(address) ? address.toLowerCase() : undefined;
}

export async function chatRoutes(app: ServiceApp, hub: ChatHub, config: ChatConfig) {
  // Sockets of upgrade requests not (yet) handed to ws. One refused at the root — 401 or 404 from
  // the kit's hooks, outside this plugin — is left open by Fastify and would hold the server on
  // close: idle ones go after 30 s (ws resets the timeout once it owns a socket), all on shutdown.
  const upgrading = new Set<Duplex>();
  app.server.on('upgrade', (_req, socket: Duplex) => {
    upgrading.add(socket);
    socket.once('close', () => upgrading.delete(socket));
    if (socket instanceof Socket) socket.setTimeout(30_000, () => upgrading.has(socket) && socket.destroy());
  });

  await app.register(websocket, {
    options: { maxPayload: config.maxFrameBytes, perMessageDeflate: false, clientTracking: false },
    // On shutdown every client is told to reconnect (1012) before the server stops.
    preClose: (done) => {
      for (const socket of upgrading) socket.destroy();
      hub.close().then(
        () => done(),
        () => done(),
      );
    },
    // Protocol errors (oversized or malformed frames) close the socket with their code by themselves.
    errorHandler: (error, _socket, request) => {
      request.log.debug({ err: error }, 'websocket error');
    },
  });

  // An upgrade refused with an HTTP answer (401 from the kit's auth hook, which runs before the
  // websocket plugin's own hooks; 400; 403; 404) leaves a raw socket no HTTP server manages: end it,
  // or it holds the server open on shutdown. Accepted upgrades are hijacked and never get here.
  app.addHook('onResponse', async (request) => {
    if (request.headers.upgrade?.toLowerCase() === 'websocket') request.raw.socket?.destroy();
  });

  const admitted = new WeakMap<FastifyRequest, Admission>();

  // The room: the BFF forwards the client's upgrade here with an internal token naming the user
  // (no user: an anonymous reader). Refusals are HTTP answers before the upgrade (401, 403, 404).
  app.get(
    '/rooms/:streamId/ws',
    {
      websocket: true,
      schema: { params: chat.RoomParams, querystring: chat.WsQuery },
      preHandler: async (request) => {
        const { streamId } = request.params as { streamId: string };
        const admission = await hub.admit(streamId, request.caller, clientAddress(request));
        admitted.set(request, admission);
        // The socket's slots are held until its connection ends, however it ends (upgraded or not).
        const socket = request.raw.socket;
        if (socket.destroyed) admission.release();
        else socket.once('close', admission.release);
      },
    },
    (socket, request) => {
      upgrading.delete(request.raw.socket);
      hub.join(admitted.get(request) as Admission, socket, request.caller, (request.query as { since?: number }).since);
    },
  );

  app.get(
    '/rooms/:streamId',
    { schema: { params: chat.RoomParams, response: { 200: chat.RoomState } } },
    async (request) => hub.state(request.params.streamId),
  );

  // The recent history, as a joining client gets it.
  app.get(
    '/rooms/:streamId/items',
    { schema: { params: chat.RoomParams, querystring: chat.RecentQuery, response: { 200: chat.ItemList } } },
    async (request) => ({ items: items(await hub.recent(request.params.streamId, request.query.limit ?? 50)) }),
  );

  app.delete(
    '/rooms/:streamId/messages/:messageId',
    { schema: { params: chat.RoomMessageParams, response: { 200: chat.Appended } } },
    async (request) => hub.deleteMessage(request.params.streamId, request.caller, request.params.messageId),
  );

  app.put(
    '/rooms/:streamId/bans/:userId',
    { schema: { params: chat.RoomUserParams, response: { 200: chat.Appended } } },
    async (request) => hub.ban(request.params.streamId, request.caller, request.params.userId),
  );

  app.delete(
    '/rooms/:streamId/bans/:userId',
    { schema: { params: chat.RoomUserParams, response: { 200: chat.Appended } } },
    async (request) => hub.unban(request.params.streamId, request.caller, request.params.userId),
  );

  app.get(
    '/channels/:channelId/chat-settings',
    { schema: { params: chat.ChannelParams, response: { 200: chat.RoomSettings } } },
    async (request) => hub.settings(request.params.channelId),
  );

  app.put(
    '/channels/:channelId/chat-settings',
    { schema: { params: chat.ChannelParams, body: chat.UpdateRoomSettingsBody, response: { 200: chat.RoomSettings } } },
    async (request) => hub.updateSettings(request.params.channelId, request.caller, request.body),
  );
}
