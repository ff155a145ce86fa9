// A relay or a consumer in its own process, so that a test can SIGKILL it mid-stream.
// usage: node worker.ts relay|consumer <postgresUrl> <schemaPrefix> <redisUrl> <redisPrefix>
import { openBackend } from '../../src/db/database.ts';
import { idempotentConsumer } from '../../src/events/consumer.ts';
import { RedisEventBus } from '../../src/events/redis-bus.ts';
import { OutboxRelay } from '../../src/events/relay.ts';
import { handlers, openSchemas } from './fixture.ts';

const [role, postgresUrl, schemaPrefix, redisUrl, redisPrefix] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
  string,
];
const backend = await openBackend(postgresUrl, { poolSize: 2 });
const schemas = openSchemas(backend, schemaPrefix);
const bus = new RedisEventBus({ url: redisUrl, prefix: redisPrefix, partitions: 4, leaseMs: 1500, blockMs: 200 });

if (role === 'relay') {
  // Armed by the test (it waits for the acknowledgement), the relay holds the next batch it publishes between
  // publish and mark, says so, and stays there: the test kills it, so that batch goes out again.
  let armed = false;
  process.on('message', (m) => {
    if (m !== 'arm') return;
    armed = true;
    process.send?.('armed');
  });
  new OutboxRelay({
    service: 'producer',
    db: schemas.producer.db,
    schema: schemas.producer.schema,
    bus,
    pollMs: 5,
    batchSize: 7,
    afterPublish: (events) => {
      if (!armed) return;
      process.send?.({ published: events.length });
      return new Promise<void>(() => {});
    },
  }).start();
} else {
  await bus.subscribe({
    group: 'consumer',
    consumer: `worker-${process.pid}`,
    handle: idempotentConsumer(schemas.consumer.db, handlers, undefined),
  });
}
process.send?.('ready');
