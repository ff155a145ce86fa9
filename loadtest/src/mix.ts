import { randomUUID } from 'node:crypto';
import { chatPersona } from './chat.ts';
import { viewOf } from './endpoints.ts';
import type { SourceAddresses } from './http.ts';
import type { Recorder } from './recorder.ts';
import type { LiveStream, PoolUser, World } from './setup.ts';

/**
 * The traffic mix, as an artillery script: who arrives (weighted personas), what each does, and the
 * arrival phases. Artillery runs the flows; the functions below pick streams, users and stamps,
 * add tokens and fresh Idempotency-Keys, and record every answer.
 */

/** Mean session length the personas are designed for; arrivals per second = users / this. */
export const MEAN_SESSION_S = 15;

export interface Phases {
  rampUpS: number;
  holdS: number;
  rampDownS: number;
  arrivalsPerS: number;
}

export function phasesFor(users: number, durationS: number): Phases {
  const rampUpS = Math.max(3, Math.round(durationS * 0.2));
  return {
    rampUpS,
    holdS: durationS - 2 * rampUpS,
    rampDownS: rampUpS,
    arrivalsPerS: users / MEAN_SESSION_S,
  };
}

/** mulberry32: the mix's choices are reproducible from --seed (timings are not). */
export function random(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Popular streams get most viewers: a Zipf(1) pick over the list. */
export function zipfPicker<T>(items: T[], rnd: () => number) {
  const weights = items.map((_, i) => 1 / (i + 1));
  const total = weights.reduce((a, b) => a + b, 0);
  return () => {
    let r = rnd() * total;
    for (let i = 0; i < items.length; i++) {
      r -= weights[i]!;
      if (r <= 0) return items[i]!;
    }
    return items[items.length - 1]!;
  };
}

/** Pool users: members share them (a login never conflicts); supporters take one for themselves. */
export class UserPool {
  readonly #users: PoolUser[];
  readonly #free: PoolUser[];
  #next = 0;
  shared = 0;

  constructor(users: PoolUser[]) {
    this.#users = users;
    this.#free = [...users];
  }

  any(): PoolUser {
    return this.#users[this.#next++ % this.#users.length]!;
  }

  take(): { user: PoolUser; exclusive: boolean } {
    const user = this.#free.shift();
    if (user) return { user, exclusive: true };
    this.shared++;
    return { user: this.any(), exclusive: false };
  }

  give(user: PoolUser) {
    this.#free.push(user);
  }
}

interface Vars extends Record<string, unknown> {
  client?: 'app' | 'web';
  token?: string;
  user?: PoolUser;
  exclusive?: boolean;
  etag?: string;
}
interface VuContext {
  vars: Vars;
  _httpAgent?: { options: Record<string, unknown> };
  _lhEnded?: boolean;
}
interface RequestParams {
  name?: string;
  url?: string;
  headers?: Record<string, string>;
  idem?: boolean;
  followRedirect?: boolean;
}
interface Response {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  body?: string;
  timings?: { phases?: { firstByte?: number; total?: number } };
}
interface Events {
  emit(event: string, ...args: unknown[]): void;
}
type Next = (err?: Error | null) => void;

const TOKEN_MAX_AGE_MS = 10 * 60_000;

export function createMix(
  world: World,
  options: {
    bff: string;
    users: number;
    durationS: number;
    seed: number;
    recorder: Recorder;
    addresses: SourceAddresses;
    /** When set, 10 % of users sit in chat rooms (see chat.ts). */
    chat?: { api: string; internalKey: string } | undefined;
  },
) {
  const rnd = random(options.seed);
  const pick = <T>(xs: T[]) => xs[Math.floor(rnd() * xs.length)]!;
  const pickStream = zipfPicker(world.streams, rnd);
  const pool = new UserPool(world.users);
  const recorder = options.recorder;
  const profileIds = [...world.streams.map((s) => s.ownerId), ...world.users.slice(0, 20).map((u) => u.id)];

  const setStream = (vars: Vars, s: LiveStream) => {
    vars.streamId = s.id;
    vars.channelId = s.channelId;
    vars.streamerId = s.ownerId;
  };

  const processor = {
    /** Every user: a client type, its own source address, and is counted as online. */
    begin(context: VuContext, _ee: Events, done: Next) {
      context.vars.client = rnd() < 0.6 ? 'app' : 'web';
      // Returning app users have the catalog cached and revalidate it with its ETag.
      if (world.catalogEtag && rnd() < 0.7) context.vars.etag = world.catalogEtag;
      const agent = context._httpAgent;
      if (agent) {
        const address = options.addresses.take();
        if (address) agent.options.localAddress = address;
        // Keep-alive like a browser, longer than any think time: agentkeepalive's default (4 s free,
        // 8 s active) races with 1–5 s pauses and fails a reused socket with ERR_SOCKET_TIMEOUT.
        agent.options.freeSocketTimeout = 30_000;
        agent.options.timeout = 60_000;
      }
      setStream(context.vars, pickStream());
      recorder.userStarted();
      done();
    },
    end(context: VuContext, _ee: Events, done: Next) {
      if (context.vars.user && context.vars.exclusive) pool.give(context.vars.user);
      if (!context._lhEnded) recorder.userFinished(false);
      context._lhEnded = true;
      done();
    },
    /** A member logs in with a password (any pool user). */
    member(context: VuContext, _ee: Events, done: Next) {
      const user = pool.any();
      context.vars.user = user;
      context.vars.handle = user.handle;
      context.vars.password = user.password;
      done();
    },
    /** A supporter uses the app's stored token; logs in first only when it is old. */
    supporter(context: VuContext, _ee: Events, done: Next) {
      const { user, exclusive } = pool.take();
      context.vars.user = user;
      context.vars.exclusive = exclusive;
      context.vars.handle = user.handle;
      context.vars.password = user.password;
      if (Date.now() - user.tokenAt < TOKEN_MAX_AGE_MS) context.vars.token = user.token;
      done();
    },
    needsLogin(vars: Vars) {
      return !vars.token;
    },
    isApp(vars: Vars) {
      return vars.client === 'app';
    },
    /** Where a browsing user goes next: mostly stream pages, some channels and profiles. */
    nextPage(context: VuContext, _ee: Events, done: Next) {
      const v = context.vars;
      const r = rnd();
      const s = pickStream();
      setStream(v, s);
      if (r < 0.7) {
        v.path = `/${v.client}/v1/streams/${s.id}`;
        v.endpoint = `GET /${v.client}/v1/streams/:id`;
      } else if (r < 0.85) {
        v.path = `/${v.client}/v1/channels/${s.channelId}`;
        v.endpoint = `GET /${v.client}/v1/channels/:id`;
      } else {
        v.path = `/${v.client}/v1/users/${pick(profileIds)}`;
        v.endpoint = `GET /${v.client}/v1/users/:id`;
      }
      done();
    },
    pickStream(context: VuContext, _ee: Events, done: Next) {
      setStream(context.vars, pickStream());
      done();
    },
    /** Mostly free stamps (rate-limited per user), some paid ones (spend points). */
    pickStamp(context: VuContext, _ee: Events, done: Next) {
      const paid = world.paidStamps.length > 0 && (world.freeStamps.length === 0 || rnd() < 0.4);
      context.vars.stampId = pick(paid ? world.paidStamps : world.freeStamps);
      done();
    },
    prepare(params: RequestParams, context: VuContext, _ee: Events, next: Next) {
      const headers: Record<string, string> = { ...params.headers };
      if (context.vars.token) headers.authorization = `Bearer ${context.vars.token}`;
      if (params.idem) {
        headers['idempotency-key'] = randomUUID();
      }
      if (params.url?.includes('/stamps/catalog') && context.vars.etag) headers['if-none-match'] = context.vars.etag;
      params.headers = headers;
      // Nothing here redirects; and artillery waits for the redirect of a 304 unless told not to follow.
      params.followRedirect = false;
      next();
    },
    record(params: RequestParams, res: Response, context: VuContext, ee: Events, next: Next) {
      const endpoint = params.name ?? params.url ?? '?';
      const ms = res.timings?.phases?.total ?? res.timings?.phases?.firstByte;
      if (ms !== undefined) {
        ee.emit('histogram', `lat|${endpoint}`, ms);
        ee.emit('histogram', 'lat|*', ms);
      }
      ee.emit('counter', `req|${endpoint}|${res.statusCode}`, 1);
      const degraded = res.headers['livehouse-degraded'];
      const view = viewOf(endpoint);
      let error: { code?: string; message?: string } | undefined;
      if (res.statusCode >= 400 && res.body) {
        try {
          error = JSON.parse(res.body).error;
        } catch {
          error = { code: 'not_json', message: res.body.slice(0, 200) };
        }
      }
      recorder.record(endpoint, res.statusCode, {
        ...(typeof degraded === 'string' && degraded && { degraded }),
        ...(view && { view }),
        ...(error?.code && { code: error.code }),
        ...(error?.message && { message: error.message }),
      });
      if (endpoint === 'POST /auth/login' && res.statusCode === 200 && res.body) {
        try {
          const token = JSON.parse(res.body).tokens.accessToken as string;
          context.vars.token = token;
          if (context.vars.user) Object.assign(context.vars.user, { token, tokenAt: Date.now() });
        } catch {
          // An unreadable body is counted by its status already.
        }
      }
      if (endpoint === 'GET /stamps/catalog' && res.statusCode === 200) {
        const etag = res.headers.etag;
        if (typeof etag === 'string') context.vars.etag = etag;
      }
      next();
    },
    /** No HTTP answer (refused, reset, timeout): counted, and this user's session ends. */
    failed(err: Error & { code?: string }, params: RequestParams, context: VuContext, _ee: Events, next: Next) {
      recorder.record(params.name ?? params.url ?? '?', 0, { code: err.code ?? err.name });
      if (context.vars.user && context.vars.exclusive) pool.give(context.vars.user);
      if (!context._lhEnded) recorder.userFinished(true);
      context._lhEnded = true;
      next();
    },
  };

  const chat =
    options.chat &&
    chatPersona({
      bff: options.bff,
      pickStream,
      anyUser: () => pool.any(),
      rnd,
      recorder,
      addresses: options.addresses,
    });
  Object.assign(processor, chat?.processor);

  const hooks = {
    beforeScenario: ['begin'],
    afterScenario: ['end'],
    beforeRequest: ['prepare'],
    afterResponse: ['record'],
    onError: ['failed'],
  };
  const get = (url: string, name: string, extra: Record<string, unknown> = {}) => ({ get: { url, name, ...extra } });
  const home = get('/{{ client }}/v1/home', 'GET /{{ client }}/v1/home');
  const stream = get('/{{ client }}/v1/streams/{{ streamId }}', 'GET /{{ client }}/v1/streams/:id');
  const browse = (pages: number, thinkS: number) => ({
    loop: [{ think: thinkS, jitter: '60%' }, { function: 'nextPage' }, get('{{ path }}', '{{ endpoint }}')],
    count: pages,
  });
  const login = {
    post: {
      url: '/{{ client }}/v1/auth/login',
      name: 'POST /auth/login',
      json: { login: '{{ handle }}', password: '{{ password }}' },
    },
  };

  const scenarios = [
    {
      // Most people watch: home, then stream pages (some channels and profiles), anonymously.
      name: 'viewer',
      weight: chat ? 50 : 60,
      ...hooks,
      flow: [home, get('/{{ client }}/v1/stamps/catalog', 'GET /stamps/catalog', { ifTrue: 'isApp' }), browse(5, 3)],
    },
    {
      // Some log in, look at their home and follow the streamer they are watching.
      name: 'member',
      weight: 25,
      ...hooks,
      flow: [
        { function: 'member' },
        login,
        home,
        { think: 2, jitter: '50%' },
        { function: 'pickStream' },
        stream,
        { think: 2, jitter: '50%' },
        { put: { url: '/{{ client }}/v1/me/following/{{ streamerId }}', name: 'PUT /me/following/:userId' } },
        browse(2, 3),
      ],
    },
    {
      // Supporters buy points and send stamps (a fresh Idempotency-Key each) to the stream they watch.
      name: 'supporter',
      weight: 15,
      ...hooks,
      flow: [
        { function: 'supporter' },
        { post: { ...login.post, ifTrue: 'needsLogin' } },
        home,
        // Buying points as a client does: open a checkout, pay it at the provider's page (the embedded
        // local provider), whose signed webhook credits the points through the BFF's webhook route.
        {
          post: {
            url: '/{{ client }}/v1/me/points/checkouts',
            name: 'POST /me/points/checkouts',
            idem: true,
            json: { packId: 'p500' },
            capture: { json: '$.url', as: 'checkoutUrl' },
          },
        },
        { post: { url: '{{ checkoutUrl }}', name: 'pay at the provider (webhook)' } },
        { function: 'pickStream' },
        stream,
        {
          loop: [
            { think: 2, jitter: '50%' },
            { function: 'pickStamp' },
            {
              post: {
                url: '/{{ client }}/v1/streams/{{ streamId }}/stamps',
                name: 'POST /streams/:id/stamps',
                idem: true,
                json: { stampId: '{{ stampId }}' },
              },
            },
          ],
          count: 4,
        },
      ],
    },
    // Some sit in a stream's chat room, reading and posting (WebSocket; see chat.ts).
    ...(chat ? [{ ...chat.scenario, weight: 10 }] : []),
  ];

  const phases = phasesFor(options.users, options.durationS);
  const rate = phases.arrivalsPerS;
  const script = {
    config: {
      target: options.bff,
      http: { timeout: 10 },
      phases: [
        { name: 'ramp up', duration: phases.rampUpS, arrivalRate: Math.min(1, rate), rampTo: rate, ...whole },
        { name: 'hold', duration: phases.holdS, arrivalRate: rate },
        { name: 'ramp down', duration: phases.rampDownS, arrivalRate: rate, rampTo: 0, ...whole },
      ],
      processor,
    },
    scenarios,
  };
  return { script, phases, pool };
}

/** Artillery floors fractional ramp rates unless the phase says it runs as the only worker. */
const whole = { worker: 1, totalWorkers: 1 };
