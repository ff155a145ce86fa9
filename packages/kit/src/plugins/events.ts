import type { EventType } from '@livehouse/contracts';
import fp from 'fastify-plugin';
import type { EventBus } from '../events/bus.ts';
import type { ConsumeHandlers } from '../events/consumer.ts';
import { RedisEventBus } from '../events/redis-bus.ts';
import { hasOutbox, startServiceEvents } from '../events/runtime.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** The event bus, when the service produces or consumes events and one is available. */
    bus: EventBus | undefined;
    /** Starts the outbox relay and the consumers (after the routes and background work exist). */
    startEvents<C>(ctx: C, consumes: ConsumeHandlers<unknown, C> | undefined): Promise<void>;
  }
}

export interface EventsPluginOptions {
  service: string;
  produces: readonly EventType[] | undefined;
  consumes: boolean;
  /** The bus shared by the services of one process (`livehouse up`); otherwise Redis Streams on the shared client. */
  bus?: EventBus | undefined;
  relay?: { pollMs?: number } | undefined;
}

/** The service's share of outbox → relay → bus → consumers; stopped first on close, so work in hand finishes. */
export const eventsPlugin = fp<EventsPluginOptions>(
  async (app, o) => {
    const { database } = app;
    // A service that forgot to declare `produces` but has an outbox still gets its events relayed.
    const produces = o.produces ?? (database && (await hasOutbox(database)) ? [] : undefined);
    const wantsEvents = produces !== undefined || o.consumes;
    const owned =
      wantsEvents && !o.bus && app.redis
        ? new RedisEventBus({ redis: app.redis, prefix: `${app.redisKeyPrefix}livehouse:events:` })
        : undefined;
    const bus = wantsEvents ? (o.bus ?? owned) : undefined;
    if (wantsEvents && !bus) {
      // Relaying into a bus nobody else hears would mark events published and lose them: wait for Redis instead.
      app.log.warn('no event bus: set redis.url; events stay in the outbox and nothing is consumed until then');
    }
    app.decorate('bus', bus);
    let running: { stop(): Promise<void> } | undefined;
    app.decorate('startEvents', async <C>(ctx: C, consumes: ConsumeHandlers<unknown, C> | undefined) => {
      if (!bus) return;
      running = await startServiceEvents({
        service: o.service,
        produces,
        consumes,
        db: database?.db,
        schema: database?.schema,
        notifier: database?.notifier,
        bus,
        ctx,
        log: app.log,
        metrics: app.metrics,
        ...(o.relay && { relay: o.relay }),
      });
    });
    app.addHook('preClose', async () => running?.stop());
    app.addHook('onClose', async () => owned?.close());
  },
  {
    name: 'livehouse-events',
    fastify: '5.x',
    dependencies: ['livehouse-database', 'livehouse-redis', 'livehouse-metrics'],
  },
);
