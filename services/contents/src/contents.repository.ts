import { pgErrorCode, statement } from '@livehouse/kit';
import type { Kysely, Transaction } from 'kysely';
import type { ContentsDatabase, StreamStateColumn } from './db.ts';

type Db = Kysely<ContentsDatabase> | Transaction<ContentsDatabase>;
type Trx = Transaction<ContentsDatabase>;

/**
 * The typed outcome a constraint violation stands for (unique: 23505, foreign key: 23503), so that
 * no service knows SQLSTATEs; any other error is rethrown. In a transaction the violation has
 * aborted it: the caller must end it (throw) on such an outcome.
 */
async function orOutcome<T, O extends string>(
  run: Promise<T>,
  outcomes: { unique?: O; foreignKey?: O },
): Promise<T | O> {
  try {
    return await run;
  } catch (err) {
    const code = pgErrorCode(err);
    if (code === '23505' && outcomes.unique) return outcomes.unique;
    if (code === '23503' && outcomes.foreignKey) return outcomes.foreignKey;
    throw err;
  }
}

// ── categories ──────────────────────────────────────────────────────────────────────

const categoryColumns = ['categories.id', 'categories.slug', 'categories.name'] as const;

export function listCategories(db: Db) {
  return db.selectFrom('categories').select(categoryColumns).orderBy('name').orderBy('id').limit(1000).execute();
}

export function findCategoryBySlug(db: Db, slug: string) {
  return db.selectFrom('categories').select(categoryColumns).where('slug', '=', slug).executeTakeFirst();
}

/** The new category, or `'slug_taken'`. */
export function insertCategory(db: Db, c: { slug: string; name: string }) {
  return orOutcome(db.insertInto('categories').values(c).returning(categoryColumns).executeTakeFirstOrThrow(), {
    unique: 'slug_taken',
  });
}

// ── channels ────────────────────────────────────────────────────────────────────────

/** Channels with their category and their live stream (at most one: a partial unique index): one statement. */
function channelQuery(db: Db) {
  return db
    .selectFrom('channels')
    .leftJoin('categories', 'categories.id', 'channels.category_id')
    .leftJoin('streams', (j) => j.onRef('streams.channel_id', '=', 'channels.id').on('streams.state', '=', 'live'))
    .select([
      'channels.id',
      'channels.owner_id',
      'channels.title',
      'channels.description',
      'channels.category_id',
      'channels.image_url',
      'channels.featured',
      'channels.created_at',
      'channels.updated_at',
      'categories.slug as category_slug',
      'categories.name as category_name',
      'streams.id as live_stream_id',
    ]);
}

export type ChannelResult = Awaited<ReturnType<ReturnType<typeof channelQuery>['executeTakeFirstOrThrow']>>;

const findChannelStatement = statement(
  'contents.findChannel',
  (db: Kysely<ContentsDatabase>, a: { id: string }) => channelQuery(db).where('channels.id', '=', a.id),
  { id: '00000000-0000-4000-8000-000000000001' },
);

export function findChannel(db: Db, id: string) {
  return findChannelStatement.first(db, { id });
}

export function findChannelByOwner(db: Db, ownerId: string) {
  return channelQuery(db).where('channels.owner_id', '=', ownerId).executeTakeFirst();
}

/** One statement (and one compiled shape: `= any($1)`) for any number of ids. */
const findChannelsStatement = statement(
  'contents.findChannels',
  (db: Kysely<ContentsDatabase>, a: { ids: readonly string[] }) =>
    channelQuery(db).where('channels.id', '=', (eb) => eb.fn.any(eb.val(a.ids))),
  { ids: ['00000000-0000-4000-8000-000000000001'] },
);

export function findChannels(db: Db, ids: readonly string[]) {
  return findChannelsStatement.rows(db, { ids });
}

/** Only what permission checks need. */
export function findChannelOwner(db: Db, id: string) {
  return db.selectFrom('channels').select(['id', 'owner_id', 'category_id']).where('id', '=', id).executeTakeFirst();
}

export function insertChannel(
  trx: Trx,
  c: {
    ownerId: string;
    title: string;
    description: string;
    categoryId: string | null;
    imageUrl: string | null;
    streamKeyHash: string;
  },
) {
  return orOutcome(
    trx
      .insertInto('channels')
      .values({
        owner_id: c.ownerId,
        title: c.title,
        description: c.description,
        category_id: c.categoryId,
        image_url: c.imageUrl,
        stream_key_hash: c.streamKeyHash,
      })
      .returning(['id'])
      .executeTakeFirstOrThrow(),
    // One channel per owner (a unique index); the category must exist.
    { unique: 'owner_has_channel', foreignKey: 'unknown_category' },
  );
}

export async function updateChannel(
  db: Db,
  id: string,
  changes: {
    title?: string;
    description?: string;
    category_id?: string | null;
    image_url?: string | null;
    featured?: boolean;
  },
) {
  const row = await orOutcome(
    db
      .updateTable('channels')
      .set({ ...changes, updated_at: new Date() })
      .where('id', '=', id)
      .returning('id')
      .executeTakeFirst(),
    { foreignKey: 'unknown_category' },
  );
  return row === 'unknown_category' ? row : row !== undefined;
}

export async function setStreamKeyHash(db: Db, id: string, hash: string) {
  const row = await db
    .updateTable('channels')
    .set({ stream_key_hash: hash, updated_at: new Date() })
    .where('id', '=', id)
    .returning('id')
    .executeTakeFirst();
  return row !== undefined;
}

export function findChannelByKeyHash(db: Db, hash: string) {
  return db.selectFrom('channels').select('id').where('stream_key_hash', '=', hash).executeTakeFirst();
}

// ── streams ─────────────────────────────────────────────────────────────────────────

/** Streams with their channel's owner, title and image and their category: one statement. */
function streamQuery(db: Db) {
  return db
    .selectFrom('streams')
    .innerJoin('channels', 'channels.id', 'streams.channel_id')
    .leftJoin('categories', 'categories.id', 'streams.category_id')
    .select([
      'streams.id',
      'streams.channel_id',
      'streams.title',
      'streams.category_id',
      'streams.state',
      'streams.scheduled_at',
      'streams.started_at',
      'streams.ended_at',
      'streams.duration_seconds',
      'streams.viewer_count',
      'streams.peak_viewer_count',
      'streams.archive_seconds',
      'streams.archive_registered_at',
      'streams.created_at',
      'channels.owner_id',
      'channels.title as channel_title',
      'channels.image_url as channel_image_url',
      'categories.slug as category_slug',
      'categories.name as category_name',
    ]);
}

export type StreamResult = Awaited<ReturnType<ReturnType<typeof streamQuery>['executeTakeFirstOrThrow']>>;

const findStreamStatement = statement(
  'contents.findStream',
  (db: Kysely<ContentsDatabase>, a: { id: string }) => streamQuery(db).where('streams.id', '=', a.id),
  { id: '00000000-0000-4000-8000-000000000002' },
);

export function findStream(db: Db, id: string) {
  return findStreamStatement.first(db, { id });
}

/** One statement (and one compiled shape: `= any($1)`) for any number of ids. */
const findStreamsStatement = statement(
  'contents.findStreams',
  (db: Kysely<ContentsDatabase>, a: { ids: readonly string[] }) =>
    streamQuery(db).where('streams.id', '=', (eb) => eb.fn.any(eb.val(a.ids))),
  { ids: ['00000000-0000-4000-8000-000000000002'] },
);

export function findStreams(db: Db, ids: readonly string[]) {
  return findStreamsStatement.rows(db, { ids });
}

export function insertStream(
  db: Db,
  s: { channelId: string; title: string; categoryId: string | null; scheduledAt: Date | null },
) {
  return orOutcome(
    db
      .insertInto('streams')
      .values({ channel_id: s.channelId, title: s.title, category_id: s.categoryId, scheduled_at: s.scheduledAt })
      .returning('id')
      .executeTakeFirstOrThrow(),
    { foreignKey: 'unknown_category' },
  );
}

/**
 * The row a transition starts from, locked until the transaction ends (the channel row too, so
 * transitions of one channel queue up). An inner join only: FOR UPDATE refuses nullable sides.
 */
export function lockStream(trx: Trx, id: string) {
  return trx
    .selectFrom('streams')
    .innerJoin('channels', 'channels.id', 'streams.channel_id')
    .select([
      'streams.id',
      'streams.channel_id',
      'streams.state',
      'streams.title',
      'streams.category_id',
      'streams.started_at',
      'streams.peak_viewer_count',
      'channels.owner_id',
    ])
    .where('streams.id', '=', id)
    .forUpdate()
    .executeTakeFirst();
}

/** `'channel_already_live'`: the partial unique index allows one live stream per channel. */
export function markLive(trx: Trx, id: string, startedAt: Date) {
  return orOutcome(
    trx
      .updateTable('streams')
      .set({ state: 'live', started_at: startedAt, viewer_count: 0, peak_viewer_count: 0 })
      .where('id', '=', id)
      .where('state', '=', 'scheduled')
      .executeTakeFirstOrThrow(),
    { unique: 'channel_already_live' },
  );
}

export function markEnded(trx: Trx, id: string, endedAt: Date, durationSeconds: number) {
  return trx
    .updateTable('streams')
    .set({ state: 'ended', ended_at: endedAt, duration_seconds: durationSeconds, viewer_count: 0 })
    .where('id', '=', id)
    .where('state', '=', 'live')
    .executeTakeFirstOrThrow();
}

/** Only a live stream's count moves; undefined when the stream is missing or not live. */
export function setViewerCount(db: Db, id: string, count: number) {
  return db
    .updateTable('streams')
    .set((eb) => ({
      viewer_count: count,
      peak_viewer_count: eb.fn('greatest', [eb.ref('peak_viewer_count'), eb.val(count)]),
    }))
    .where('id', '=', id)
    .where('state', '=', 'live')
    .returning(['id', 'viewer_count', 'peak_viewer_count'])
    .executeTakeFirst();
}

export function findStreamState(db: Db, id: string): Promise<{ state: StreamStateColumn } | undefined> {
  return db.selectFrom('streams').select('state').where('id', '=', id).executeTakeFirst();
}

export interface LiveFilter {
  categoryId?: string | undefined;
  categorySlug?: string | undefined;
  featuredOnly?: boolean;
}

/** A page of live streams, most viewers first (ties: id), `rows` rows: one statement. */
const listLiveStatement = statement(
  'contents.listLive',
  (
    db: Kysely<ContentsDatabase>,
    a: {
      categoryId?: string | undefined;
      categorySlug?: string | undefined;
      featured?: true | undefined;
      after?: { viewers: number; id: string } | undefined;
      rows: number;
    },
  ) => {
    let q = streamQuery(db).where('streams.state', '=', 'live');
    if (a.categoryId !== undefined) q = q.where('streams.category_id', '=', a.categoryId);
    if (a.categorySlug !== undefined) q = q.where('categories.slug', '=', a.categorySlug);
    if (a.featured !== undefined) q = q.where('channels.featured', '=', true);
    const after = a.after;
    if (after !== undefined) {
      q = q.where((eb) =>
        eb(eb.refTuple('streams.viewer_count', 'streams.id'), '<', eb.tuple(after.viewers, after.id)),
      );
    }
    return q.orderBy('streams.viewer_count', 'desc').orderBy('streams.id', 'desc').limit(a.rows);
  },
  { rows: 21 },
);

export function listLive(
  db: Db,
  filter: LiveFilter,
  limit: number,
  after: { viewers: number; id: string } | undefined,
) {
  // Only presence is structure (each combination compiles once): empty filters are absent ones.
  return listLiveStatement.rows(db, {
    categoryId: filter.categoryId || undefined,
    categorySlug: filter.categorySlug || undefined,
    featured: filter.featuredOnly ? true : undefined,
    after,
    rows: limit + 1,
  });
}

/** A page of a channel's archives (ended streams), newest first, `rows` rows: one statement. */
const listArchivesStatement = statement(
  'contents.listArchives',
  (
    db: Kysely<ContentsDatabase>,
    a: { channelId: string; after?: { endedAt: Date; id: string } | undefined; rows: number },
  ) => {
    let q = streamQuery(db).where('streams.channel_id', '=', a.channelId).where('streams.state', '=', 'ended');
    const after = a.after;
    if (after !== undefined) {
      q = q.where((eb) => eb(eb.refTuple('streams.ended_at', 'streams.id'), '<', eb.tuple(after.endedAt, after.id)));
    }
    return q.orderBy('streams.ended_at', 'desc').orderBy('streams.id', 'desc').limit(a.rows);
  },
  { channelId: '00000000-0000-4000-8000-000000000001', rows: 21 },
);

export function listArchives(
  db: Db,
  channelId: string,
  limit: number,
  after: { endedAt: Date; id: string } | undefined,
) {
  return listArchivesStatement.rows(db, { channelId, after, rows: limit + 1 });
}
