import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';

/**
 * A local stand-in for the provider's API, for embedded mode (`livehouse up`) and tests: the Stripe SDK
 * is pointed at it (host/port/protocol), so the service's code is the same as against Stripe. It
 * implements what payment uses (Checkout Sessions, refunds) and, like Stripe, reports what happens by
 * POSTing signed webhook events to the platform's public webhook route. Buyers "pay" by POSTing to
 * the session's `url`. Nothing here touches the ledger: points still come only from a verified event.
 */
export interface LocalProviderOptions {
  host: string;
  port: number;
  apiKey: string;
  webhookSecret: string;
  /** Where events go: the platform's public route (the BFF's /webhooks/stripe). */
  webhookUrl: string;
}

interface Session {
  id: string;
  object: 'checkout.session';
  mode: string;
  status: 'open' | 'complete' | 'expired';
  payment_status: 'unpaid' | 'paid';
  amount_total: number;
  currency: string;
  client_reference_id: string | null;
  metadata: Record<string, string>;
  payment_intent: string | null;
  success_url: string | null;
  cancel_url: string | null;
  url: string | null;
  livemode: false;
  created: number;
}

interface Charge {
  id: string;
  object: 'charge';
  payment_intent: string;
  amount: number;
  amount_refunded: number;
  currency: string;
  refunded: boolean;
  livemode: false;
}

export interface SentEvent {
  id: string;
  type: string;
  payload: string;
  status: number;
}

export class LocalProvider {
  readonly #options: LocalProviderOptions;
  readonly #server: Server;
  readonly #sessions = new Map<string, Session>();
  readonly #byKey = new Map<string, string>();
  readonly #charges = new Map<string, Charge>();
  /** Every event sent, in order (tests replay them). */
  readonly events: SentEvent[] = [];
  baseUrl = '';
  /** Settable: a test that runs this as a fake of Stripe learns the platform's URL after it starts. */
  webhookUrl: string;

  constructor(options: LocalProviderOptions) {
    this.#options = options;
    this.webhookUrl = options.webhookUrl;
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch((err: unknown) => json(res, 500, { error: { message: String(err) } }));
    });
  }

  async listen() {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#options.port, this.#options.host, resolve);
    });
    const { port } = this.#server.address() as AddressInfo;
    this.baseUrl = `http://${this.#options.host}:${port}`;
    return { host: this.#options.host, port };
  }

  close() {
    return new Promise<void>((resolve) => {
      this.#server.closeAllConnections();
      this.#server.close(() => resolve());
    });
  }

  /** The buyer paid the session: like Stripe, `checkout.session.completed` with a new payment intent. */
  async pay(sessionId: string) {
    const session = this.#sessions.get(sessionId);
    if (!session) return undefined;
    if (session.status === 'open') {
      const pi = `pi_local_${token()}`;
      Object.assign(session, { status: 'complete', payment_status: 'paid', payment_intent: pi, url: null });
      const charge: Charge = {
        id: `ch_local_${token()}`,
        object: 'charge',
        payment_intent: pi,
        amount: session.amount_total,
        amount_refunded: 0,
        currency: session.currency,
        refunded: false,
        livemode: false,
      };
      this.#charges.set(pi, charge);
    }
    const delivered = await this.send('checkout.session.completed', session);
    return { session, delivered };
  }

  /** A refund of (part of) a paid session's payment: `charge.refunded` with the cumulative amount. */
  async refund(paymentIntent: string, amount?: number) {
    const charge = this.#charges.get(paymentIntent);
    if (!charge) return undefined;
    const refund = Math.min(amount ?? charge.amount, charge.amount - charge.amount_refunded);
    charge.amount_refunded += refund;
    charge.refunded = charge.amount_refunded === charge.amount;
    const id = `re_local_${token()}`;
    const delivered = await this.send('charge.refunded', {
      ...charge,
      refunds: { object: 'list', data: [{ id, object: 'refund', amount: refund, payment_intent: paymentIntent }] },
    });
    return { id, object: 'refund', amount: refund, payment_intent: paymentIntent, status: 'succeeded', delivered };
  }

  /** The buyer's bank disputes the payment: `charge.dispute.created` (Stripe has no API for this). */
  async dispute(paymentIntent: string) {
    const charge = this.#charges.get(paymentIntent);
    if (!charge) return undefined;
    const dispute = {
      id: `dp_local_${token()}`,
      object: 'dispute',
      charge: charge.id,
      payment_intent: paymentIntent,
      amount: charge.amount - charge.amount_refunded,
      currency: charge.currency,
      status: 'needs_response',
      livemode: false,
    };
    return { dispute, delivered: await this.send('charge.dispute.created', dispute) };
  }

  /** Signs and delivers an event as Stripe does (`Stripe-Signature: t=…,v1=…` over the raw body). */
  async send(type: string, object: object) {
    const id = `evt_local_${token()}`;
    const payload = JSON.stringify({
      id,
      object: 'event',
      type,
      api_version: Stripe.API_VERSION,
      created: Math.floor(Date.now() / 1000),
      livemode: false,
      pending_webhooks: 1,
      data: { object },
    });
    const status = await this.deliver(payload);
    this.events.push({ id, type, payload, status });
    return { id, status };
  }

  async deliver(payload: string, signature = this.sign(payload)) {
    try {
      const res = await fetch(this.webhookUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'stripe-signature': signature },
        body: payload,
        signal: AbortSignal.timeout(15_000),
      });
      await res.arrayBuffer();
      return res.status;
    } catch {
      return 0;
    }
  }

  sign(payload: string, timestamp = Math.floor(Date.now() / 1000)) {
    return Stripe.webhooks.generateTestHeaderString({ payload, secret: this.#options.webhookSecret, timestamp });
  }

  async #handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://local');
    const body = new URLSearchParams(await readBody(req));
    const pay = /^\/pay\/(cs_[A-Za-z0-9_]+)$/.exec(url.pathname);
    if (pay?.[1]) {
      if (req.method === 'GET') return html(res, payPage(pay[1], this.#sessions.get(pay[1])));
      const done = await this.pay(pay[1]);
      if (!done) return json(res, 404, { error: { message: 'no such checkout session' } });
      const wantsPage = (req.headers.accept ?? '').includes('text/html');
      if (wantsPage && done.session.success_url) {
        res.writeHead(303, { location: done.session.success_url.replace('{CHECKOUT_SESSION_ID}', done.session.id) });
        return res.end();
      }
      return json(res, 200, {
        id: done.session.id,
        paid: true,
        paymentIntent: done.session.payment_intent,
        webhook: done.delivered,
      });
    }
    // What was sent, for tests that replay a delivery (loopback only; payloads carry no secret).
    if (req.method === 'GET' && url.pathname === '/local/events') return json(res, 200, { items: this.events });
    const dispute = /^\/local\/disputes$/.exec(url.pathname);
    if (dispute && req.method === 'POST') {
      const done = await this.dispute(body.get('payment_intent') ?? '');
      return done ? json(res, 200, done) : json(res, 404, { error: { message: 'no such payment intent' } });
    }

    // The Stripe API subset: authenticated with the secret key, like api.stripe.com.
    if (req.headers.authorization !== `Bearer ${this.#options.apiKey}`) {
      return json(res, 401, { error: { type: 'invalid_request_error', message: 'Invalid API Key provided' } });
    }
    if (req.method === 'POST' && url.pathname === '/v1/checkout/sessions') {
      const key = req.headers['idempotency-key'];
      const known = typeof key === 'string' ? this.#byKey.get(key) : undefined;
      if (known) return json(res, 200, this.#sessions.get(known));
      const session = this.#createSession(body);
      if (typeof key === 'string') this.#byKey.set(key, session.id);
      return json(res, 200, session);
    }
    const get = /^\/v1\/checkout\/sessions\/(cs_[A-Za-z0-9_]+)$/.exec(url.pathname);
    if (req.method === 'GET' && get?.[1]) {
      const session = this.#sessions.get(get[1]);
      return session
        ? json(res, 200, session)
        : json(res, 404, { error: { type: 'invalid_request_error', message: 'No such checkout.session' } });
    }
    if (req.method === 'POST' && url.pathname === '/v1/refunds') {
      const amount = body.get('amount');
      const done = await this.refund(body.get('payment_intent') ?? '', amount ? Number(amount) : undefined);
      return done
        ? json(res, 200, done)
        : json(res, 404, { error: { type: 'invalid_request_error', message: 'No such payment_intent' } });
    }
    return json(res, 404, {
      error: { type: 'invalid_request_error', message: `Unrecognized request URL (${req.method}: ${url.pathname})` },
    });
  }

  #createSession(body: URLSearchParams): Session {
    const id = `cs_local_${token()}`;
    const metadata: Record<string, string> = {};
    for (const [k, v] of body) {
      const m = /^metadata\[(\w+)\]$/.exec(k);
      if (m?.[1]) metadata[m[1]] = v;
    }
    const quantity = Number(body.get('line_items[0][quantity]') ?? 1);
    const session: Session = {
      id,
      object: 'checkout.session',
      mode: body.get('mode') ?? 'payment',
      status: 'open',
      payment_status: 'unpaid',
      amount_total: Number(body.get('line_items[0][price_data][unit_amount]') ?? 0) * quantity,
      currency: body.get('line_items[0][price_data][currency]') ?? 'jpy',
      client_reference_id: body.get('client_reference_id'),
      metadata,
      payment_intent: null,
      success_url: body.get('success_url'),
      cancel_url: body.get('cancel_url'),
      url: `${this.baseUrl}/pay/${id}`,
      livemode: false,
      created: Math.floor(Date.now() / 1000),
    };
    this.#sessions.set(id, session);
    return session;
  }
}

const token = () => randomBytes(12).toString('hex');

async function readBody(req: IncomingMessage) {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function json(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function html(res: ServerResponse, page: string) {
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  res.end(page);
}

function payPage(id: string, session: Session | undefined) {
  if (!session) return '<!doctype html><title>livehouse local checkout</title><p>No such checkout session.</p>';
  const amount = `${session.amount_total} ${session.currency.toUpperCase()}`;
  return `<!doctype html><meta charset="utf-8"><title>livehouse local checkout</title>
<h1>Local payment provider</h1><p>Embedded mode: no money moves. Checkout ${id}: ${amount}, ${session.status}.</p>
<form method="post"><button ${session.status === 'open' ? '' : 'disabled'}>Pay ${amount}</button></form>`;
}
