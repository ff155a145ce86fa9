import { randomUUID } from 'node:crypto';
import type { OutboxDatabase } from '@livehouse/kit';
import { dbKinds, startTestPlatform, type TestPlatform } from '@livehouse/kit/testing';
import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { userService } from '../src/index.ts';

describe.each(dbKinds)('user on %s', (kind) => {
  let p: TestPlatform;
  const ids: string[] = [];
  beforeAll(async () => {
    p = await startTestPlatform([userService], kind);
    for (let i = 0; i < 100; i++) {
      const id = randomUUID();
      ids.push(id);
      const res = await p.call('user', 'PUT', `/users/${id}`, { as: 'auth', body: { handle: `user_${i}` } });
      expect(res.status).toBe(200);
    }
  });
  afterAll(() => p?.close());

  it('when 100 users are looked up in one batch, then it costs exactly 1 SQL statement', async () => {
    const res = await p.call('user', 'GET', `/users?ids=${ids.join(',')}`);
    expect(res.status).toBe(200);
    expect(res.body.items).toHaveLength(100);
    expect(res.headers.get('livehouse-db-queries')).toBe('1');
  });

  it('when a handle belongs to another id, then handle_taken; the same id and handle again is the same profile', async () => {
    const taken = await p.call('user', 'PUT', `/users/${randomUUID()}`, { as: 'auth', body: { handle: 'user_0' } });
    expect(taken.status).toBe(409);
    expect(taken.body.error.code).toBe('handle_taken');
    const again = await p.call('user', 'PUT', `/users/${ids[0]}`, { as: 'auth', body: { handle: 'user_0' } });
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(ids[0]);
  });

  it('when a user follows an unknown user, then 404 and nothing moves', async () => {
    const a = ids[5] as string;
    const res = await p.call('user', 'PUT', `/users/${a}/following/${randomUUID()}`, { user: { id: a } });
    expect(res.status).toBe(404);
    expect((await p.call('user', 'GET', `/users/${a}`)).body.followingCount).toBe(0);
    expect((await p.call('user', 'GET', `/users/${a}/following`)).body.items).toEqual([]);
  });

  it('when a user follows twice, then the follow is recorded once and counts move once', async () => {
    const [a, b] = ids as [string, string];
    for (let i = 0; i < 2; i++) {
      const res = await p.call('user', 'PUT', `/users/${a}/following/${b}`, { user: { id: a } });
      expect(res.status).toBe(200);
    }
    const followers = await p.call('user', 'GET', `/users/${b}/followers`);
    expect(followers.body.items.map((f: { user: { id: string } }) => f.user.id)).toEqual([a]);
    const profile = await p.call('user', 'GET', `/users/${b}`);
    expect(profile.body.followersCount).toBe(1);
  });

  it('when a follow list gets a forged cursor, then 400 with the cursor message, whatever the forgery', async () => {
    const b = ids[1] as string;
    const forged = (key: unknown) => Buffer.from(JSON.stringify(key)).toString('base64url');
    for (const cursor of [
      forged(['yesterday', randomUUID()]),
      forged([Date.now(), 'not-a-uuid']),
      forged([-1, randomUUID()]),
      forged([Date.now()]),
      '%%%',
    ]) {
      const res = await p.call('user', 'GET', `/users/${b}/followers?cursor=${encodeURIComponent(cursor)}`);
      expect(res.status, cursor).toBe(400);
      expect(res.body.error.message, cursor).toBe('the cursor is invalid: pass back a nextCursor exactly as received');
    }
  });

  it('when a user follows, unfollows and follows again, then those events are written in order and relayed', async () => {
    const [a, , c] = ids as [string, string, string];
    for (const method of ['PUT', 'DELETE', 'PUT', 'DELETE', 'DELETE']) {
      const res = await p.call('user', method, `/users/${a}/following/${c}`, { user: { id: a } });
      expect(res.status).toBe(200);
    }
    const db = p.services.get('user')?.built.database?.db as Kysely<OutboxDatabase>;
    const rows = () =>
      db
        .selectFrom('outbox')
        .select(['type', 'key', 'data', 'published_at'])
        .where('key', '=', `${a}:${c}`)
        .orderBy('seq')
        .execute();
    // The second DELETE changed nothing, so it wrote nothing.
    expect((await rows()).map((r) => r.type)).toEqual([
      'user.followed',
      'user.unfollowed',
      'user.followed',
      'user.unfollowed',
    ]);
    expect((await rows())[0]?.data).toEqual({ followerId: a, followeeId: c });
    // The relay publishes them shortly.
    for (let i = 0; i < 100 && (await rows()).some((r) => r.published_at === null); i++)
      await new Promise((r) => setTimeout(r, 20));
    expect((await rows()).every((r) => r.published_at !== null)).toBe(true);
  });

  it('when the caller has no internal token, then 401 internal_token_missing', async () => {
    const res = await fetch(`${p.url('user')}/users/${ids[0]}`);
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('internal_token_missing');
  });
});
