import { createOutboxTable } from '@livehouse/kit';
import { type Kysely, sql } from 'kysely';
import { deterministicUuid } from '../ids.ts';

// Frozen with this migration: later catalog changes go in new migrations or through POST /stamps.
const NAMES = [
  ['reaction', ['GG', 'Hype', 'Clap', 'Heart', 'LOL', 'Wow', 'Pog', 'Cheers', 'Fire', 'Thumbs Up']],
  ['emotion', ['Crown', 'Salute', 'Rage', 'Cry', 'Sleepy', 'Love', 'Party', 'Shock', 'Smug', 'Facepalm']],
  ['fantasy', ['Ninja', 'Dragon', 'Sword', 'Shield', 'Potion', 'Coin', 'Gem', 'Bomb', 'Ghost', 'Skull']],
  ['critters', ['Cat', 'Dog', 'Panda', 'Frog', 'Owl', 'Pizza', 'Ramen', 'Coffee', 'Cake', 'Sushi']],
  ['gaming', ['Combo', 'Critical', 'Victory', 'Respawn', 'Lag', 'AFK', 'Speedrun', 'Clutch', 'Headshot', 'Level Up']],
] as const;

/** Four free variants, six paid ones: 200 free and 300 paid stamps. */
const VARIANTS = [
  ['Classic', 0],
  ['Pixel', 0],
  ['Neon', 0],
  ['Sketch', 0],
  ['Chibi', 10],
  ['Retro', 30],
  ['Glitch', 50],
  ['Silver', 100],
  ['Gold', 300],
  ['Diamond', 1000],
] as const;

const slugOf = (s: string) => s.toLowerCase().replaceAll(' ', '-');

/** A stable id per stamp, so every deployment's catalog has the same ids. */
export const stampId = (slug: string) => deterministicUuid(`livehouse:stamp:${slug}`);

export function initialCatalog() {
  const rows: {
    id: string;
    name: string;
    image_url: string;
    category: string;
    price: number;
    sort_order: number;
  }[] = [];
  NAMES.forEach(([category, names], c) => {
    names.forEach((name, n) => {
      VARIANTS.forEach(([variant, price], v) => {
        const slug = `${slugOf(name)}-${slugOf(variant)}`;
        rows.push({
          id: stampId(slug),
          name: `${name} (${variant})`,
          image_url: `stamps/${slug}.png`,
          category,
          price,
          sort_order: (c * 10 + n) * 10 + v,
        });
      });
    });
  });
  return rows;
}

export async function up(db: Kysely<unknown>) {
  await db.schema
    .createTable('stamps')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('image_url', 'text', (c) => c.notNull())
    .addColumn('category', 'text', (c) => c.notNull())
    .addColumn('price', 'integer', (c) => c.notNull().check(sql`price >= 0`))
    // A channel of the contents service (no cross-schema key); null = every channel.
    .addColumn('channel_id', 'uuid')
    .addColumn('sort_order', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz(3)', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz(3)', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await (db as Kysely<{ stamps: ReturnType<typeof initialCatalog>[number] }>)
    .insertInto('stamps')
    .values(initialCatalog())
    .execute();

  await db.schema
    .createTable('sent_stamps')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('sender_id', 'uuid', (c) => c.notNull())
    .addColumn('idempotency_key', 'text', (c) => c.notNull())
    .addColumn('stream_id', 'uuid', (c) => c.notNull())
    .addColumn('stamp_id', 'uuid', (c) => c.notNull().references('stamps.id'))
    .addColumn('receiver_id', 'uuid', (c) => c.notNull())
    .addColumn('price', 'integer', (c) => c.notNull())
    .addColumn('transfer_id', 'uuid')
    .addColumn('balance_after', 'bigint')
    .addColumn('created_at', 'timestamptz(3)', (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('sent_stamps_sender_key', ['sender_id', 'idempotency_key'])
    .addCheckConstraint('sent_stamps_paid_has_transfer', sql`(price = 0) = (transfer_id is null)`)
    .execute();
  await db.schema
    .createIndex('sent_stamps_stream_idx')
    .on('sent_stamps')
    .columns(['stream_id', 'created_at'])
    .execute();

  // Points given per user per stream (paid stamps), kept up to date in the send's transaction.
  await db.schema
    .createTable('supporters')
    .addColumn('stream_id', 'uuid', (c) => c.notNull())
    .addColumn('user_id', 'uuid', (c) => c.notNull())
    .addColumn('points', 'bigint', (c) => c.notNull().check(sql`points >= 0`))
    .addColumn('stamps', 'integer', (c) => c.notNull().check(sql`stamps >= 0`))
    .addColumn('last_sent_at', 'timestamptz(3)', (c) => c.notNull())
    .addPrimaryKeyConstraint('supporters_pk', ['stream_id', 'user_id'])
    .execute();
  await db.schema
    .createIndex('supporters_ranking_idx')
    .on('supporters')
    .columns(['stream_id', 'points desc', 'stamps desc', 'user_id'])
    .execute();

  await createOutboxTable(db);
}
