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
  let batches = 0;
  new OutboxRelay({
    service: 'producer',
    db: schemas.producer.db,
    schema: schemas.producer.schema,
    bus,
    pollMs: 5,
    batchSize: 7,
    // Tells the test it is between publish and mark, and stays there until the test answers: it either
    // kills this process (the batch goes out again) or lets it mark the batch.
    afterPublish: (events) => {
      if (++batches % 5 !== 0) return;
      const answered = new Promise<void>((r) => process.once('message', () => r()));
      process.send?.({ published: events.length });
      return answered;
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
