import { defineService } from '@livehouse/kit';
import { ChatConfig } from './chat.config.ts';
import { chatRoutes } from './chat.routes.ts';
import { ChatHub } from './chat.service.ts';
import type { ChatDatabase } from './db.ts';
import * as init from './migrations/0001_chat.ts';
import * as processedEvents from './migrations/0002_processed_events.ts';
import { RedisRoomLog } from './redis-room-log.ts';
import { MemoryRoomLog } from './room-log.ts';
import { LocalSocketSlots, RedisSocketSlots, type SocketSlots } from './sockets.ts';
import { LocalViewerCounter, RedisViewerCounter } from './viewers.ts';

export { ChatHub, validateText } from './chat.service.ts';

/**
 * Live chat: a WebSocket room per stream. With `redis.url`, rooms span every chat instance (Redis
 * Streams for order, history and resume; pub/sub for fan-out); without it, one process (embedded).
 */
export const chatService = defineService<{ chat: typeof ChatConfig }, ChatDatabase, { hub: ChatHub }>({
  name: 'chat',
  config: { chat: ChatConfig },
  migrations: { '0001_chat': init, '0002_processed_events': processedEvents },
  dependsOn: ['contents'],
  // A paid stamp reaches its room only from here: the event is written after the ledger committed.
  consumes: {
    'stamp.sent': async (trx, event, ctx) => {
      await ctx.deps.hub.deliverStamp(event, trx);
    },
    // From then on the room refuses messages (PROTOCOL.md: conflict), on every instance.
    'stream.ended': async (_trx, event, ctx) => {
      await ctx.deps.hub.streamEnded(event.data.streamId);
    },
  },
  routes: (app, ctx) => chatRoutes(app, ctx.deps.hub, ctx.config.chat),
  // One hub per running instance, shared by the socket routes and the consumers.
  setup: (ctx) => {
    const config = ctx.config.chat;
    let log: MemoryRoomLog | RedisRoomLog;
    let viewers: LocalViewerCounter | RedisViewerCounter;
    let slots: SocketSlots;
    if (ctx.redis) {
      const redisLog = new RedisRoomLog(ctx.redis, {
        prefix: config.redisPrefix,
        retainedPerRoom: config.retainedPerRoom,
        ttlSeconds: config.roomTtlSeconds,
      });
      log = redisLog;
      viewers = new RedisViewerCounter(
        redisLog.redis,
        (streamId, suffix) => redisLog.key(streamId, suffix),
        config.viewerReportIntervalMs * 3,
      );
      // A crashed instance's slots expire after a few missed heartbeats.
      slots = new RedisSocketSlots(
        redisLog.redis,
        (holder) => `${config.redisPrefix}sockets:${holder}`,
        Math.max(10_000, config.heartbeatIntervalMs * 3),
      );
    } else {
      log = new MemoryRoomLog({ retainedPerRoom: config.retainedPerRoom });
      viewers = new LocalViewerCounter();
      slots = new LocalSocketSlots();
    }
    const hub = new ChatHub({
      db: ctx.db,
      log,
      contents: ctx.clients.contents,
      config,
      logger: ctx.log,
      viewers,
      slots,
      metrics: ctx.metrics.registry,
    });
    // The socket routes close it first (telling clients to reconnect); this covers a start that failed before them.
    ctx.onClose(() => hub.close());
    return { hub };
  },
});
