import { randomUUID } from 'node:crypto';
import { generateDevSecrets, parseConfig } from '@livehouse/kit';
import { buyPoints, dbKinds, publicApi, type TestBody, type TestPlatform } from '@livehouse/kit/testing';
import fc from 'fast-check';
import { type Kysely, sql } from 'kysely';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBff } from '../../bff/test/helpers.ts';
import type { PaymentDatabase } from '../src/db.ts';
import { checkPaymentConfig, paymentService } from '../src/index.ts';

/** A response's JSON, loosely typed: the tests assert its shape. */
const json = (r: Response): Promise<TestBody> => r.json();

const admin = { id: '00000000-0000-4000-8000-00000000ad01', roles: ['admin' as const] };

// The whole platform with the BFF as the public entry; the payment provider is the local fake of
// Stripe's API (services/payment/src/local-provider.ts) that the official SDK talks to over HTTP.
describe.each(dbKinds)('payment on %s', (kind) => {
  let p: TestPlatform;
  let api: ReturnType<typeof publicApi>;
  let secret: string;
  let providerUrl: string;
  let viewerCount = 0;

  beforeAll(async () => {
    p = await startBff(kind, (name) =>
      name === 'bff' ? { bff: { rateLimit: { perIp: { max: 100_000 }, perUser: { max: 100_000 } } } } : {},
    );
    api = publicApi(`${p.url('bff')}/web/v1`);
    secret = p.secrets.LIVEHOUSE_STRIPE_WEBHOOK_SECRET as string;
  }, 120_000);
  afterAll(() => p?.close());

  const signUp = async () => {
    const handle = `buyer_${++viewerCount}_${randomUUID().slice(0, 6)}`;
    const res = await api('POST', '/auth/signup', {
      body: { handle, email: `${handle}@example.com`, password: 'long-enough-secret' },
    });
    expect(res.status).toBe(201);
    return { id: res.body.account.id as string, token: res.body.tokens.accessToken as string };
  };
  const wallet = async (token: string) => (await api('GET', '/me/points', { token })).body;
  const history = async (token: string) => (await api('GET', '/me/points/history?limit=100', { token })).body.items;
  const openCheckout = async (token: string, packId = 'p500') => {
    const res = await api('POST', '/me/points/checkouts', {
      token,
      headers: { 'idempotency-key': randomUUID() },
      body: { packId },
    });
    expect(res.status).toBe(201);
    providerUrl = new URL(res.body.url).origin;
    return res.body as { id: string; url: string; price: number; currency: string; points: number };
  };
  /** Posts a webhook to the public route exactly as Stripe does. */
  const deliver = (payload: string, signature: string) =>
    fetch(`${p.url('bff')}/webhooks/stripe`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'stripe-signature': signature },
      body: payload,
    }).then(async (r) => ({ status: r.status, body: await json(r) }));
  const sign = (payload: string, timestamp = Math.floor(Date.now() / 1000)) =>
    Stripe.webhooks.generateTestHeaderString({ payload, secret, timestamp });
  const event = (type: string, object: object) =>
    JSON.stringify({ id: `evt_test_${randomUUID().replaceAll('-', '')}`, object: 'event', type, data: { object } });
  const completed = (c: { id: string; price: number; currency: string }, pi: string) =>
    event('checkout.session.completed', {
      id: c.id,
      object: 'checkout.session',
      payment_status: 'paid',
      status: 'complete',
      amount_total: c.price,
      currency: c.currency,
      payment_intent: pi,
    });
  const refunded = (pi: string, amount: number) =>
    event('charge.refunded', {
      id: `ch_test_${pi}`,
      object: 'charge',
      payment_intent: pi,
      amount,
      amount_refunded: amount,
      refunds: { data: [{ id: `re_test_${pi}` }] },
    });
  const paymentDb = () => {
    const db = p.services.get('payment')?.built.database?.db;
    if (!db) throw new Error('payment has no database');
    return db;
  };
  const rows = async (table: 'webhook_events' | 'checkouts') =>
    Number(
      (
        await (paymentDb() as Kysely<PaymentDatabase>)
          .selectFrom(table)
          .select(sql<number>`count(*)::int8`.as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );
  const reconciled = async () => {
    const ledger = await p.call('point', 'GET', '/admin/reconciliation', { as: 'ops' });
    expect(ledger.body.violations).toEqual([]);
    const provider = await p.call('payment', 'GET', '/admin/reconciliation', { as: 'ops' });
    expect(provider.status).toBe(200);
    return provider.body;
  };

  it('when a checkout is created and its signed checkout.session.completed arrives, then exactly one purchase is credited with provider references', async () => {
    const buyer = await signUp();
    const packs = await api('GET', '/me/points/packs', { token: buyer.token });
    expect(packs.body.items.map((x: { id: string }) => x.id)).toEqual(['p100', 'p500', 'p1200', 'p5000']);
    const checkout = await buyPoints(p.url('bff'), buyer.token, 'p500', randomUUID());
    expect(await wallet(buyer.token)).toEqual({ userId: buyer.id, balance: 500, debt: 0 });
    const state = await api('GET', `/me/points/checkouts/${checkout.id}`, { token: buyer.token });
    expect(state.body).toMatchObject({ status: 'paid', url: null, points: 500, transferId: expect.any(String) });
    const [entry] = await history(buyer.token);
    expect(entry).toMatchObject({ kind: 'purchase', amount: 500, reference: expect.stringMatching(/^pi_/) });
    const stranger = await signUp();
    expect((await api('GET', `/me/points/checkouts/${checkout.id}`, { token: stranger.token })).status).toBe(404);
    const r = await reconciled();
    expect([r.ok, r.unappliedEvents]).toEqual([true, []]);
  });

  it('when the same completed event is posted 5 times at once, then one purchase; a later redelivery is a duplicate', async () => {
    const buyer = await signUp();
    const checkout = await openCheckout(buyer.token);
    const payload = completed(checkout, `pi_test_${randomUUID().replaceAll('-', '')}`);
    const answers = await Promise.all(Array.from({ length: 5 }, () => deliver(payload, sign(payload))));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
    expect(await wallet(buyer.token)).toMatchObject({ balance: 500 });
    const again = await deliver(payload, sign(payload));
    expect(again.body).toEqual({ received: true, duplicate: true, applied: true });
    expect((await history(buyer.token)).length).toBe(1);
    expect((await reconciled()).ok).toBe(true);
  });

  it('when the signature is forged, the body altered by one byte, re-serialized or signed too long ago, then 400 and nothing is written', async () => {
    const buyer = await signUp();
    const checkout = await openCheckout(buyer.token);
    const payload = completed(checkout, `pi_test_${randomUUID().replaceAll('-', '')}`);
    const eventsBefore = await rows('webhook_events');
    const forged = Stripe.webhooks.generateTestHeaderString({ payload, secret: 'whsec_not_ours' });
    const oneByte = payload.replace('"amount_total":600', '"amount_total":601');
    expect(oneByte).not.toBe(payload);
    const reserialized = JSON.stringify(JSON.parse(payload), null, 1);
    const stale = sign(payload, Math.floor(Date.now() / 1000) - 301);
    for (const [body, signature] of [
      [payload, forged],
      [oneByte, sign(payload)],
      [reserialized, sign(payload)],
      [payload, stale],
      [payload, 'garbage'],
    ] as const) {
      const res = await deliver(body, signature);
      expect([res.status, res.body.error.code]).toEqual([400, 'webhook_signature_invalid']);
    }
    const missing = await fetch(`${p.url('bff')}/webhooks/stripe`, {
      method: 'POST',
      body: payload,
      headers: { 'content-type': 'application/json' },
    });
    expect(missing.status).toBe(400);
    expect(await rows('webhook_events')).toBe(eventsBefore);
    expect(await wallet(buyer.token)).toMatchObject({ balance: 0 });
    expect((await api('GET', `/me/points/checkouts/${checkout.id}`, { token: buyer.token })).body.status).toBe('open');
    // The genuine delivery still counts: nothing of the forgeries was recorded under its event id.
    expect((await deliver(payload, sign(payload))).body).toMatchObject({ applied: true, duplicate: false });
    expect(await wallet(buyer.token)).toMatchObject({ balance: 500 });
  });

  it('when a paid purchase is refunded after part of it was spent, then the unspent part is reversed, the rest is a debt that blocks spends, and both reconciliations are clean', async () => {
    const buyer = await signUp();
    const checkout = await buyPoints(p.url('bff'), buyer.token, 'p500', randomUUID());
    const spent = await p.call('point', 'POST', '/spends', {
      user: { id: buyer.id },
      headers: { 'idempotency-key': randomUUID() },
      body: { fromUserId: buyer.id, toUserId: randomUUID(), amount: 200, reason: 'stamp' },
    });
    expect(spent.status).toBe(201);
    const state = await api('GET', `/me/points/checkouts/${checkout.id}`, { token: buyer.token });
    const { hostname, port } = new URL(providerUrl);
    // The refund goes through the official SDK against the fake, which delivers charge.refunded.
    const stripe = new Stripe('sk_test_local', { host: hostname, port: Number(port), protocol: 'http' });
    const events = await json(await fetch(`${providerUrl}/local/events`));
    const paid = events.items.findLast((e: { type: string; payload: string }) => e.payload.includes(checkout.id));
    const pi = JSON.parse(paid.payload).data.object.payment_intent as string;
    const refund = await stripe.refunds.create({ payment_intent: pi });
    expect(refund.id).toMatch(/^re_/);
    expect(state.body.status).toBe('paid');
    expect(await wallet(buyer.token)).toEqual({ userId: buyer.id, balance: 0, debt: 200 });
    const entries = await history(buyer.token);
    expect(entries[0]).toMatchObject({ kind: 'reversal', amount: -300, reason: 'refund', reference: refund.id });
    const blocked = await p.call('point', 'POST', '/spends', {
      user: { id: buyer.id },
      headers: { 'idempotency-key': randomUUID() },
      body: { fromUserId: buyer.id, toUserId: randomUUID(), amount: 1, reason: 'stamp' },
    });
    expect(blocked.body.error.code).toBe('debt_outstanding');
    const r = await reconciled();
    expect([r.ok, r.violations, r.reversals]).toEqual([
      true,
      [],
      expect.objectContaining({ count: expect.any(Number) }),
    ]);
    // An admin settles it: the platform bears what was spent.
    const settled = await p.call('point', 'POST', `/wallets/${buyer.id}/debt/settlements`, {
      user: admin,
      headers: { 'idempotency-key': randomUUID() },
      body: { method: 'write_off' },
    });
    expect(settled.body).toMatchObject({ settled: 200, debt: 0 });
    expect((await reconciled()).ok).toBe(true);
  });

  it('when a dispute is opened, then the purchase is reversed with the dispute as its reference', async () => {
    const buyer = await signUp();
    const checkout = await buyPoints(p.url('bff'), buyer.token, 'p100', randomUUID());
    const events = await json(await fetch(`${providerUrl}/local/events`));
    const paid = events.items.findLast((e: { payload: string }) => e.payload.includes(checkout.id));
    const pi = JSON.parse(paid.payload).data.object.payment_intent as string;
    const res = await fetch(`${providerUrl}/local/disputes`, {
      method: 'POST',
      body: new URLSearchParams({ payment_intent: pi }),
    });
    const { dispute } = await json(res);
    expect(await wallet(buyer.token)).toEqual({ userId: buyer.id, balance: 0, debt: 0 });
    expect((await history(buyer.token))[0]).toMatchObject({
      kind: 'reversal',
      amount: -100,
      reason: 'dispute',
      reference: dispute.id,
    });
    expect((await reconciled()).ok).toBe(true);
  });

  it('when the refund arrives before the completion, then the end state is the same as in order', async () => {
    const endState = async (order: 'in order' | 'refund first') => {
      const buyer = await signUp();
      const checkout = await openCheckout(buyer.token);
      const pi = `pi_test_${randomUUID().replaceAll('-', '')}`;
      const done = completed(checkout, pi);
      const refund = refunded(pi, checkout.price);
      const sequence = order === 'in order' ? [done, refund] : [refund, done];
      const first = await deliver(sequence[0] as string, sign(sequence[0] as string));
      expect(first.status).toBe(200);
      if (order === 'refund first') {
        expect(first.body.applied).toBe(false);
        const waiting = await reconciled();
        expect(waiting.unappliedEvents).toEqual([
          expect.objectContaining({ type: 'charge.refunded', error: 'waiting for checkout.session.completed' }),
        ]);
      }
      expect((await deliver(sequence[1] as string, sign(sequence[1] as string))).status).toBe(200);
      return {
        wallet: await wallet(buyer.token),
        history: (await history(buyer.token)).map((e: { kind: string; amount: number }) => [e.kind, e.amount]),
        checkout: (await api('GET', `/me/points/checkouts/${checkout.id}`, { token: buyer.token })).body.status,
      };
    };
    const inOrder = await endState('in order');
    const refundFirst = await endState('refund first');
    expect({ ...refundFirst, wallet: { ...refundFirst.wallet, userId: 'x' } }).toEqual({
      ...inOrder,
      wallet: { ...inOrder.wallet, userId: 'x' },
    });
    expect(inOrder).toMatchObject({
      wallet: { balance: 0, debt: 0 },
      history: [
        ['reversal', -500],
        ['purchase', 500],
      ],
    });
    const r = await reconciled();
    expect([r.ok, r.unappliedEvents]).toEqual([true, []]);
  });

  it('when a client tries every public route with purchase-like bodies, then no route credits points and the OpenAPI document has no purchase command', async () => {
    const buyer = await signUp();
    const doc = await json(await fetch(`${p.url('bff')}/docs/json`));
    const paths = Object.keys(doc.paths);
    expect(paths.filter((x) => /purchase/.test(x))).toEqual([]);
    expect(paths).toContain('/web/v1/me/points/checkouts');
    const body = JSON.stringify({ amount: 1_000_000, paymentId: 'pay_x', userId: buyer.id, packId: 'p5000', total: 1 });
    for (const [path, methods] of Object.entries(doc.paths as Record<string, Record<string, unknown>>)) {
      for (const method of Object.keys(methods)) {
        const url = path.replace(/\{[^}]+\}/g, buyer.id);
        await fetch(`${p.url('bff')}${url}`, {
          method: method.toUpperCase(),
          headers: {
            authorization: `Bearer ${buyer.token}`,
            'idempotency-key': randomUUID(),
            'stripe-signature': 't=1,v1=00',
            ...(method !== 'get' && { 'content-type': 'application/json' }),
          },
          ...(method !== 'get' && { body }),
        });
      }
    }
    expect(await wallet(buyer.token)).toMatchObject({ balance: 0 });
  });

  it('when the new routes get arbitrary input, then 4xx in the error format and nothing is written', async () => {
    const buyer = await signUp();
    const before = { events: await rows('webhook_events'), checkouts: await rows('checkouts') };
    const badPack = fc
      .oneof(fc.string({ maxLength: 40 }), fc.integer(), fc.constant(null))
      .filter((x) => !['p100', 'p500', 'p1200', 'p5000'].includes(x as string));
    const input = fc.oneof(
      fc.record({
        route: fc.constant('webhook' as const),
        body: fc.oneof(
          fc.string({ maxLength: 300 }),
          fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
        ),
        signature: fc.option(fc.string({ maxLength: 200 })),
      }),
      fc.record({
        route: fc.constant('checkout' as const),
        body: fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.record({ packId: badPack }, { requiredKeys: [] })),
        key: fc.option(fc.string({ maxLength: 120 })),
      }),
      fc.record({
        route: fc.constant('status' as const),
        id: fc.oneof(fc.string({ maxLength: 60 }), fc.constant('cs_nope')),
      }),
    );
    await fc.assert(
      fc.asyncProperty(input, async (i) => {
        let res: { status: number; body: { error?: { code: string; message: string; requestId: string } } };
        if (i.route === 'webhook') {
          res = await fetch(`${p.url('bff')}/webhooks/stripe`, {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              ...(i.signature !== null && { 'stripe-signature': encodeURIComponent(i.signature) }),
            },
            body: i.body,
          }).then(async (r) => ({ status: r.status, body: await json(r) }));
        } else if (i.route === 'checkout') {
          res = await api('POST', '/me/points/checkouts', {
            token: buyer.token,
            body: JSON.stringify(i.body),
            headers: i.key === null ? {} : { 'idempotency-key': encodeURIComponent(i.key) },
          });
        } else {
          res = await api('GET', `/me/points/checkouts/${encodeURIComponent(i.id)}`, { token: buyer.token });
        }
        expect(res.status, JSON.stringify(res.body)).toBeGreaterThanOrEqual(400);
        expect(res.status, JSON.stringify(res.body)).toBeLessThan(500);
        expect(res.body.error).toMatchObject({
          code: expect.stringMatching(/^[a-z_]+$/),
          message: expect.any(String),
          requestId: expect.any(String),
        });
      }),
      { numRuns: 150 },
    );
    expect({ events: await rows('webhook_events'), checkouts: await rows('checkouts') }).toEqual(before);
    expect(await wallet(buyer.token)).toMatchObject({ balance: 0, debt: 0 });
  });
});

describe('payment config', () => {
  const base = { services: { point: 'http://point:8080' }, log: { level: 'silent' } };
  const check = (raw: object, env: Record<string, string>) =>
    checkPaymentConfig(parseConfig(raw, paymentService.config, { env: { ...generateDevSecrets(), ...env } }));

  it('when the local provider is configured outside embedded mode, then the config is refused', () => {
    for (const url of ['postgres://livehouse@db:5432/livehouse', 'memory://', '/var/lib/livehouse']) {
      expect(() => check({ ...base, database: { url }, payment: { provider: 'local' } }, {})).toThrow(
        /payment.provider: local is only for embedded mode/,
      );
    }
    expect(check({ ...base, database: { url: 'shared://' }, payment: { provider: 'local' } }, {})).toMatchObject({
      provider: 'local',
      apiKey: 'sk_test_local',
    });
    // Unset, the provider follows the mode.
    expect(check({ ...base, database: { url: 'shared://' } }, {}).provider).toBe('local');
  });

  it('when the provider is stripe without its secrets, then the config names both', () => {
    const raw = { ...base, database: { url: 'postgres://livehouse@db:5432/livehouse' } };
    expect(() => check(raw, { LIVEHOUSE_STRIPE_WEBHOOK_SECRET: '' })).toThrow(
      /LIVEHOUSE_STRIPE_WEBHOOK_SECRET \(environment\) is required; LIVEHOUSE_STRIPE_API_KEY/,
    );
    expect(check(raw, { LIVEHOUSE_STRIPE_API_KEY: 'sk_test_x' })).toMatchObject({ apiKey: 'sk_test_x' });
  });
});
