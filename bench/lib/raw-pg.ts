/**
 * The references `npm run bench:cost` compares the services' CPU per request with: bare Fastify
 * routes that run the same statements with `pg` by hand, in the same schemas as the fleet's point
 * and user services, and nothing else (no internal-token check, no validation, no Kysely, no outbox
 * relay, no metrics), as named prepared statements like the services' compiled ones. What a service
 * spends beyond this is its framework's cost.
 *   POST /spends     — the spend's three statements (claim and debit, outbox event, transfer) in one transaction;
 *   GET  /users?ids= — the batch profile lookup.
 * As its own process: RAW_PORT, RAW_DATABASE_URL, RAW_POINT_SCHEMA, RAW_USER_SCHEMA.
 */
import { createHash, randomInt, randomUUID } from 'node:crypto';
import Fastify from 'fastify';
import pg from 'pg';

const INT8 = 20;
const pool = new pg.Pool({
  connectionString: process.env.RAW_DATABASE_URL,
  max: 8,
  types: { getTypeParser: (oid, format) => (oid === INT8 ? Number : pg.types.getTypeParser(oid, format)) },
});
const p = `"${process.env.RAW_POINT_SCHEMA}"`;
const u = `"${process.env.RAW_USER_SCHEMA}"`;
const FEE_BPS = 1000;
const SHARDS = 8;

const claimAndDebit = `with "k" as (insert into ${p}."idempotency_keys" ("scope", "key", "request_hash", "status", "response") values ($1, $2, $3, null, null) on conflict ("scope", "key") do nothing returning "scope"), "d" as (update ${p}."accounts" set "balance" = "balance" - $4 where "owner" = $5 and "shard" = 0 and "balance" >= $4 and exists (select "k"."scope" from "k") and not exists (select "x"."owner" from ${p}."accounts" as "x" where "x"."owner" = $6 and "x"."balance" < 0) returning "balance") select (select count(*) as "n" from "k") as "claimed", (select "d"."balance" from "d") as "main", (select coalesce(sum(o.balance), 0)::int8 as "s" from ${p}."accounts" as "o" where "o"."owner" = $5 and "o"."shard" > 0) as "others"`;
const outbox = `insert into ${p}."outbox" ("event_id", "type", "key", "data") values ($1, $2, $3, $4)`;
const record = `with "t" as (insert into ${p}."transfers" ("id", "kind", "from_user", "to_user", "amount", "fee", "reason", "reference", "payment_id", "refund_of", "reverses", "created_at") values ($1, 'spend', $2, $3, $4, $5, $6, null, null, null, null, $7)), "p" as (insert into ${p}."postings" ("transfer_id", "owner", "shard", "amount") values ($1, $2, 0, $8), ($1, $3, $9, $10), ($1, 'revenue', $11, $5)), "e" as (insert into ${p}."entries" ("user_id", "transfer_id", "kind", "amount", "fee", "counterparty_id", "reason", "reference", "refund_of", "created_at") values ($2, $1, 'spend', $8, $5, $3, $6, null, null, $7), ($3, $1, 'receive', $10, $5, $2, $6, null, null, $7)), "k" as (update ${p}."idempotency_keys" set "status" = 201, "response" = $12 where "scope" = $13 and "key" = $14) insert into ${p}."accounts" ("owner", "shard", "system", "balance") values ($15, $16, $17, $18), ($19, $20, $21, $22) on conflict ("owner", "shard") do update set "balance" = "accounts"."balance" + "excluded"."balance"`;
const profiles = `select "id", "handle", "display_name", "bio", "avatar_url", "followers_count", "following_count", "created_at" from ${u}."profiles" where "id" = any($1)`;

const app = Fastify();

app.post<{ Body: { fromUserId: string; toUserId: string; amount: number; reason: string } }>(
  '/spends',
  async (request, reply) => {
    const { fromUserId: from, toUserId: to, amount, reason } = request.body;
    const scope = `user:${from}`;
    const key = String(request.headers['idempotency-key']);
    const hash = createHash('sha256')
      .update(`POST /spends\n${JSON.stringify(request.body)}`)
      .digest('base64url');
    const client = await pool.connect();
    try {
      await client.query('begin');
      const claimed = (
        await client.query({
          name: 'claim',
          text: claimAndDebit,
          values: [scope, key, hash, amount, from, `debt:${from}`],
        })
      ).rows[0];
      if (claimed.main === null) {
        await client.query('rollback');
        return reply.code(409).send({ error: { code: 'insufficient_points' } });
      }
      const id = randomUUID();
      const at = new Date();
      const fee = Math.floor((amount * FEE_BPS) / 10_000);
      const shard = 1 + randomInt(SHARDS);
      const system = 1 + randomInt(SHARDS);
      const answer = {
        transferId: id,
        fromUserId: from,
        toUserId: to,
        amount,
        fee,
        balance: claimed.main + claimed.others,
      };
      await client.query({
        name: 'outbox',
        text: outbox,
        values: [
          randomUUID(),
          'points.spent',
          to,
          JSON.stringify({ transferId: id, fromUserId: from, toUserId: to, amount, fee, reason, reference: null }),
        ],
      });
      const credits: [string, number, boolean, number][] = [
        ['revenue', system, true, fee],
        [to, shard, false, amount - fee],
      ];
      credits.sort((a, b) => (a[0] === b[0] ? a[1] - b[1] : a[0] < b[0] ? -1 : 1));
      await client.query({
        name: 'record',
        text: record,
        values: [
          id,
          from,
          to,
          amount,
          fee,
          reason,
          at,
          -amount,
          shard,
          amount - fee,
          system,
          JSON.stringify(answer),
          scope,
          key,
          ...credits.flat(),
        ],
      });
      await client.query('commit');
      return reply.code(201).send(answer);
    } catch (err) {
      await client.query('rollback').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  },
);

app.get<{ Querystring: { ids: string } }>('/users', async (request) => {
  const { rows } = await pool.query({
    name: 'profiles',
    text: profiles,
    values: [request.query.ids.toLowerCase().split(',')],
  });
  return {
    items: rows.map((r) => ({
      id: r.id,
      handle: r.handle,
      displayName: r.display_name,
      bio: r.bio,
      avatarUrl: r.avatar_url,
      followersCount: r.followers_count,
      followingCount: r.following_count,
      createdAt: r.created_at.toISOString(),
    })),
  };
});

app.get('/healthz', async () => 'ok');

await app.listen({ port: Number(process.env.RAW_PORT), host: '127.0.0.1' });
