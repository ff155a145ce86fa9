import { type ErrorCode, errorStatus, IDEMPOTENCY_KEY_PATTERN } from '@livehouse/contracts';
import type { FastifySchema, RouteOptions } from 'fastify';

/**
 * The public contract of every BFF route beyond its body schemas: what it is for, whether it needs a token, and
 * which error codes it can answer with. The OpenAPI document is generated from it (security, error responses,
 * operationIds, headers) and the BFF enforces `auth` from it, so the document cannot say one thing while the
 * route does another. A route missing here fails the contract test.
 */
export interface RouteContract {
  summary: string;
  description?: string;
  /** required: 401 without a valid token; optional: a token personalises the answer; none: ignored. */
  auth: 'required' | 'optional' | 'none';
  /** Codes specific to this route; the ones every route of its kind can give are added (see `commonErrors`). */
  errors?: readonly ErrorCode[];
  /** A request body a client can send as is (commands): shown in the document, checked against the schema. */
  example?: Record<string, unknown>;
  /** Response headers worth documenting beyond x-request-id. */
  headers?: readonly ('etag' | 'cache-control' | 'vary' | 'idempotent-replayed')[];
}

const stampErrors = [
  'not_found',
  'stream_not_live',
  'insufficient_points',
  'debt_outstanding',
  'idempotency_key_required',
  'idempotency_key_invalid',
  'idempotency_key_reused',
  'forbidden',
] as const satisfies readonly ErrorCode[];

const viewCaching =
  'A whole answer carries a weak ETag: send it back as If-None-Match for a 304. Anonymous answers may be cached ' +
  'for 5 s (`public, max-age=5`), a logged-in caller’s are private and revalidated (`private, no-cache`), a ' +
  'degraded one is not cached at all (`no-store`, no ETag).';
const viewHeaders = ['etag', 'cache-control', 'vary'] as const;

/** Keyed by method and path below the client prefix (/app/v1, /web/v1), in Fastify's path syntax. */
export const contract: Record<string, RouteContract> = {
  'POST /auth/signup': {
    summary: 'Create an account',
    description: 'Creates a viewer account and its profile and returns a session (access and refresh token).',
    example: { handle: 'dave', email: 'dave@example.com', password: 'correct horse battery' },
    auth: 'none',
    errors: ['handle_taken', 'email_taken'],
  },
  'POST /auth/login': {
    summary: 'Log in',
    description: 'Exchanges a handle or email and a password for a session.',
    example: { login: 'dave', password: 'correct horse battery' },
    auth: 'none',
    errors: ['invalid_credentials'],
  },
  'POST /auth/refresh': {
    summary: 'Refresh a session',
    description: 'Rotates the refresh token: the old one stops working; presenting it again revokes the session.',
    example: { refreshToken: 'rt_3q2-7Ahk0k9xg8Xk1nC0tG4lY1vQ' },
    auth: 'none',
    errors: ['refresh_token_invalid', 'refresh_token_reused'],
  },
  'POST /auth/logout': {
    summary: 'Log out',
    description: 'Revokes the refresh token and its session. Access tokens expire on their own (15 minutes).',
    example: { refreshToken: 'rt_3q2-7Ahk0k9xg8Xk1nC0tG4lY1vQ' },
    auth: 'none',
  },
  'GET /me': { summary: 'Your profile', auth: 'required', errors: ['not_found'] },
  'PATCH /me': {
    summary: 'Update your profile',
    example: { displayName: 'Dave', bio: 'Speedruns and retro RPGs' },
    auth: 'required',
    errors: ['not_found'],
  },
  'PUT /me/following/:userId': {
    summary: 'Follow a user',
    description: 'Idempotent: following twice records one follow.',
    auth: 'required',
    errors: ['not_found', 'bad_request'],
  },
  'DELETE /me/following/:userId': {
    summary: 'Unfollow a user',
    description: 'Idempotent: unfollowing someone you do not follow changes nothing.',
    auth: 'required',
    errors: ['not_found', 'bad_request'],
  },
  'GET /users': {
    summary: 'Public profiles by id',
    description: 'Up to 100 ids in one call (the web chat names its posters with it); unknown ids are left out.',
    auth: 'optional',
  },
  'GET /users/:id/followers': { summary: "A user's followers", auth: 'optional', errors: ['not_found'] },
  'GET /users/:id/following': { summary: 'Whom a user follows', auth: 'optional', errors: ['not_found'] },
  'POST /me/channel': {
    summary: 'Become a streamer',
    description: 'Creates your channel and grants the streamer role; refresh your tokens afterwards to carry it.',
    example: { title: 'Speedruns all day', description: 'Any% runs, most evenings' },
    auth: 'required',
    errors: ['conflict', 'not_found', 'forbidden'],
  },
  'POST /me/channel/stream-key': {
    summary: 'Regenerate your stream key',
    description: 'Shown once; the old key stops working at once (a publisher using it is refused at its next publish).',
    auth: 'required',
    errors: ['not_found', 'forbidden'],
  },
  'POST /me/streams': {
    summary: 'Go live',
    description: 'Creates a stream on your channel and starts it.',
    example: { title: 'Any% practice' },
    auth: 'required',
    errors: ['not_found', 'forbidden', 'invalid_transition', 'conflict'],
  },
  'POST /streams/:id/end': {
    summary: 'End a stream',
    auth: 'required',
    errors: ['not_found', 'forbidden', 'invalid_transition'],
  },
  'GET /me/points/packs': { summary: 'Point packs for sale', auth: 'required' },
  'POST /me/points/checkouts': {
    summary: 'Buy a point pack',
    description:
      'Opens a checkout at the payment provider for a pack and answers its `url`: send the buyer there. The points ' +
      'are credited when the provider’s signed webhook says it was paid; no client route credits points. A retry ' +
      'with the same Idempotency-Key answers the same checkout.',
    example: { packId: 'p500' },
    auth: 'required',
    errors: ['not_found', 'idempotency_key_required', 'idempotency_key_invalid', 'idempotency_key_reused'],
  },
  'GET /me/points/checkouts/:id': {
    summary: 'One of your checkouts',
    description: 'open, paid (with the purchase’s transferId) or expired.',
    auth: 'required',
    errors: ['not_found'],
  },
  'POST /webhooks/stripe': {
    summary: 'Stripe webhooks',
    description:
      'For the payment provider only: the raw body is verified against its Stripe-Signature by the payment service.',
    auth: 'none',
    errors: ['webhook_signature_invalid'],
  },
  'GET /me/points/history': { summary: 'Your points history', auth: 'required' },
  'GET /me/points': { summary: 'Your wallet', auth: 'required' },
  'POST /streams/:streamId/stamps': {
    summary: 'Send a stamp',
    description:
      'Free stamps are rate-limited; paid ones spend points once per Idempotency-Key: a retry with the same key ' +
      'returns the stored answer (marked Idempotent-Replayed) and never charges twice.',
    example: { stampId: '0b7e4f5c-2d3a-4b8e-9f1a-6c5d4e3b2a10' },
    auth: 'required',
    errors: stampErrors,
    headers: ['idempotent-replayed'],
  },
  'GET /stamps/catalog': {
    summary: 'The stamp catalog',
    description: 'Fetch it once: its version is the ETag; send If-None-Match to get 304 while it is unchanged.',
    auth: 'optional',
    headers: ['etag', 'cache-control'],
  },
  'GET /home': {
    summary: 'Home view',
    description: `Live now, featured, and for a logged-in user following-live, wallet and timeline. ${viewCaching}`,
    auth: 'optional',
    headers: viewHeaders,
  },
  'GET /streams/:id': {
    summary: 'Stream page view',
    description: viewCaching,
    auth: 'optional',
    errors: ['not_found'],
    headers: viewHeaders,
  },
  'GET /channels/:id': {
    summary: 'Channel page view',
    description: viewCaching,
    auth: 'optional',
    errors: ['not_found'],
    headers: viewHeaders,
  },
  'GET /users/:id': {
    summary: 'User profile view',
    description: viewCaching,
    auth: 'optional',
    errors: ['not_found'],
    headers: viewHeaders,
  },
};

export const CLIENT_PREFIX = /^\/(app|web)\/v1(?=\/)/;

export function contractKey(method: string, url: string) {
  return `${method.toUpperCase()} ${url.replace(CLIENT_PREFIX, '')}`;
}

export function contractOf(method: string, url: string): RouteContract | undefined {
  return contract[contractKey(method, url)];
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route's auth mode from its contract, set once when the route is registered (see `contractOnRoute`). */
    auth?: RouteContract['auth'];
  }
}

/** An onRoute hook: each route carries its contract's auth mode, so no request looks the contract up again. */
export function contractOnRoute(route: RouteOptions) {
  const method = Array.isArray(route.method) ? route.method[0] : route.method;
  const auth = contractOf(String(method), route.url)?.auth;
  if (auth) route.config = { ...route.config, auth };
}

interface RouteShape {
  body: boolean;
  input: boolean;
  auth: RouteContract['auth'];
}

/** Errors any route of a kind can give, beside its own. */
function commonErrors(shape: RouteShape): ErrorCode[] {
  return [
    ...(shape.input || shape.body ? (['validation_failed'] as const) : []),
    ...(shape.body ? (['invalid_json', 'bad_request', 'payload_too_large', 'unsupported_media_type'] as const) : []),
    ...(shape.auth === 'required' ? (['token_missing', 'token_invalid', 'token_expired'] as const) : []),
    'rate_limited',
    'internal_error',
    'upstream_error',
    'service_unavailable',
    'upstream_timeout',
    'deadline_exceeded',
  ];
}

const headerDocs = {
  'x-request-id': { description: 'The request id, also in logs and error bodies', schema: { type: 'string' } },
  'retry-after': { description: 'Seconds until the limit admits a request again', schema: { type: 'integer' } },
  ratelimit: {
    description: 'What is left of the quota and when it resets (IETF draft RateLimit field: "default";r=0;t=30)',
    schema: { type: 'string' },
  },
  'ratelimit-policy': {
    description: 'The quota per window (IETF draft RateLimit-Policy field: "default";q=600;w=60)',
    schema: { type: 'string' },
  },
  etag: { description: 'Entity tag of the answer; send it back as If-None-Match', schema: { type: 'string' } },
  'cache-control': { description: 'How long the answer may be cached', schema: { type: 'string' } },
  vary: { description: 'The request headers the answer depends on', schema: { type: 'string' } },
  'idempotent-replayed': {
    description: '"true" when this is the stored answer of an earlier request with the same Idempotency-Key',
    schema: { type: 'string', enum: ['true'] },
  },
  'www-authenticate': {
    description: 'Sent when a token was presented but not accepted',
    schema: { type: 'string' },
  },
} as const;

type Json = Record<string, unknown>;

const pascal = (s: string) =>
  s
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w) => w[0]?.toUpperCase() + w.slice(1))
    .join('');

/** `appPostStreamsStreamIdStamps`: unique per client, method and path. */
export function operationId(method: string, url: string) {
  const client = CLIENT_PREFIX.exec(url)?.[1] ?? 'public';
  return `${client}${pascal(method.toLowerCase())}${pascal(url.replace(CLIENT_PREFIX, '').replace(/:/g, ''))}`;
}

/** Error responses grouped by status, each schema naming exactly the codes it can carry. */
function errorResponses(codes: readonly ErrorCode[]) {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of new Set(codes)) {
    const status = errorStatus[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const responses: Record<string, Json> = {};
  for (const [status, list] of [...byStatus].sort(([a], [b]) => a - b)) {
    responses[String(status)] = {
      description: `Error: ${list.join(', ')}`,
      type: 'object',
      required: ['error'],
      additionalProperties: false,
      properties: {
        error: {
          type: 'object',
          required: ['code', 'message', 'requestId'],
          additionalProperties: false,
          properties: {
            code: { type: 'string', enum: list },
            message: { type: 'string' },
            requestId: { type: 'string' },
            details: {
              type: 'array',
              items: {
                type: 'object',
                required: ['path', 'message'],
                properties: { path: { type: 'string' }, message: { type: 'string' } },
              },
            },
          },
        },
      },
    };
  }
  return responses;
}

/**
 * @fastify/swagger's per-route transform: the route's own schemas plus what the contract says. Only the
 * document changes; the route's runtime validation and serialization stay as declared.
 */
export function documentRoute(input: { schema: FastifySchema; url: string; route: RouteOptions }): {
  schema: FastifySchema;
  url: string;
} {
  const { url, route } = input;
  const schema = (input.schema ?? {}) as Json;
  const method = String(Array.isArray(route.method) ? route.method[0] : route.method);
  const c = contractOf(method, url);
  // Client routes, and the provider's webhook route (public too, at the root).
  if (!CLIENT_PREFIX.test(url) && !url.startsWith('/webhooks/')) return { schema: { ...schema, hide: true }, url };
  if (!c) return { schema, url };
  const shape: RouteShape = {
    body: schema.body !== undefined,
    input: schema.params !== undefined || schema.querystring !== undefined || schema.headers !== undefined,
    auth: c.auth,
  };
  const ok = { ...((schema.response as Json | undefined) ?? {}) };
  // The runtime check gives distinct codes for a missing and a malformed key; the document states the rule.
  const headers = schema.headers as { properties?: Record<string, Json> } | undefined;
  const documentedHeaders = headers?.properties?.['idempotency-key']
    ? {
        ...headers,
        required: ['idempotency-key'],
        properties: {
          ...headers.properties,
          'idempotency-key': {
            type: 'string',
            pattern: IDEMPOTENCY_KEY_PATTERN,
            description: 'Chosen by the client per write; the same key when retrying it',
          },
        },
      }
    : c?.headers?.includes('etag')
      ? {
          type: 'object',
          properties: {
            'if-none-match': {
              type: 'string',
              description: 'ETags you hold (weak, lists and * accepted): 304 when one matches',
            },
          },
        }
      : schema.headers;
  const responses: Json = { ...ok, ...errorResponses([...(c.errors ?? []), ...commonErrors(shape)]) };
  // @fastify/swagger moves a body schema's single example to the media type's `example`.
  const body = c.example && schema.body ? { body: { ...(schema.body as Json), examples: [c.example] } } : {};
  return {
    url,
    schema: {
      ...schema,
      ...body,
      ...(documentedHeaders !== undefined && { headers: documentedHeaders }),
      operationId: operationId(method, url),
      summary: c.summary,
      ...(c.description && { description: c.description }),
      security: c.auth === 'required' ? [{ bearer: [] }] : c.auth === 'optional' ? [{}, { bearer: [] }] : [],
      response: responses,
    },
  };
}

/** TypeBox writes a union of literals as anyOf of one-value enums; clients' generators want one `enum`. */
function enumsAsEnum(node: unknown): void {
  if (!node || typeof node !== 'object') return;
  if (Array.isArray(node)) {
    for (const item of node) enumsAsEnum(item);
    return;
  }
  const o = node as Json;
  const members = o.anyOf as Json[] | undefined;
  if (Array.isArray(members) && members.length > 0) {
    const values = members.map((m) => (Array.isArray(m.enum) && m.enum.length === 1 ? m.enum[0] : m.const));
    const types = new Set(members.map((m) => m.type));
    if (values.every((v) => v !== undefined) && types.size === 1) {
      delete o.anyOf;
      Object.assign(o, { type: [...types][0], enum: values });
    }
  }
  for (const value of Object.values(o)) enumsAsEnum(value);
}

/** The chat is a WebSocket upgrade on the same host, outside Fastify's routes: described by hand. */
function chatOperation(client: 'app' | 'web'): Record<string, Json> {
  return {
    get: {
      operationId: `${client}GetStreamsIdChat`,
      tags: [client, 'chat'],
      summary: 'Live chat of a stream (WebSocket)',
      description:
        'Upgrade to a WebSocket. Send the access token as `Authorization: Bearer …` or, from a browser, as the ' +
        'subprotocol `bearer.<access token>`; anonymous sockets may read. Frames are JSON: see ' +
        'services/chat/PROTOCOL.md (welcome, history, items, acks; `?since=<id>` resumes after a reconnect).',
      security: [{}, { bearer: [] }],
      parameters: [
        { name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } },
        { name: 'since', in: 'query', required: false, schema: { type: 'integer', minimum: 0 } },
        { name: 'sec-websocket-protocol', in: 'header', required: false, schema: { type: 'string' } },
      ],
      responses: {
        '101': { description: 'Switching protocols: the socket speaks the chat protocol' },
        '400': { description: 'Not a WebSocket upgrade' },
        '401': { description: 'The token is invalid or expired' },
        '404': { description: 'No such stream' },
        '429': { description: 'Too many sockets from your address or account' },
      },
    },
  };
}

/** Adds the documented response headers to every operation (after @fastify/swagger built the document). */
export function documentHeaders<D extends object>(doc: D): D {
  enumsAsEnum((doc as Json).components);
  enumsAsEnum((doc as Json).paths);
  const paths = ((doc as Json).paths ?? {}) as Record<string, Record<string, Json>>;
  for (const [path, ops] of Object.entries(paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const c = contractOf(method, path.replace(/\{([^}]+)\}/g, ':$1'));
      for (const [status, res] of Object.entries((op.responses ?? {}) as Record<string, Json>)) {
        const headers: Json = { 'x-request-id': headerDocs['x-request-id'] };
        if (status === '429')
          Object.assign(headers, {
            'retry-after': headerDocs['retry-after'],
            ratelimit: headerDocs.ratelimit,
            'ratelimit-policy': headerDocs['ratelimit-policy'],
          });
        if (status === '401' || (c?.auth === 'optional' && status.startsWith('2'))) {
          headers['www-authenticate'] = headerDocs['www-authenticate'];
        }
        if (status.startsWith('2') || status === '304') for (const h of c?.headers ?? []) headers[h] = headerDocs[h];
        res.headers = headers;
        // 304 has no body (RFC 9110 §15.4.5): no content to describe.
        if (status === '304') delete res.content;
      }
    }
  }
  for (const client of ['app', 'web'] as const) paths[`/${client}/v1/streams/{id}/chat`] = chatOperation(client);
  return doc;
}
