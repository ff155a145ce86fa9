import type { AnyServiceDefinition } from '@livehouse/kit';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { FastifyInstance } from 'fastify';

// ajv-formats is CommonJS; its default export arrives wrapped under ESM.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

/**
 * Every answer of the public API that any BFF test sees is checked against the OpenAPI document the BFF itself
 * serves: an undocumented operation or status, a body that does not match its schema, a missing x-request-id or
 * a 304 with a body is a violation. Wired once, in the helpers that start the BFF; a test file fails at close
 * when its BFF gave any (see `assertContractHeld`).
 */
const violations = new Set<string>();

type Json = Record<string, unknown>;
interface Document {
  paths: Record<string, Record<string, { responses: Record<string, Json> }>>;
}

const pointer = (...parts: string[]) => `#/${parts.map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/')}`;

class ContractChecker {
  readonly #doc: Document;
  readonly #ajv = new Ajv({ strict: false, allErrors: true });
  readonly #validators = new Map<string, ValidateFunction>();

  constructor(doc: Document) {
    this.#doc = doc;
    addFormats(this.#ajv);
    this.#ajv.addSchema(doc as unknown as Json, 'openapi.json');
  }

  check(method: string, route: string, status: number, headers: Record<string, unknown>, payload: unknown) {
    const path = route.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    const op = this.#doc.paths[path]?.[method.toLowerCase()];
    const where = `${method} ${route} → ${status}`;
    if (!op) return violations.add(`${where}: the operation is not in the document`);
    const response = op.responses[String(status)];
    if (!response) return violations.add(`${where}: status not documented (has ${Object.keys(op.responses)})`);
    if (!headers['x-request-id']) violations.add(`${where}: no x-request-id header`);
    for (const h of ['retry-after', 'ratelimit', 'ratelimit-policy']) {
      if (status === 429 && !headers[h]) violations.add(`${where}: 429 without ${h}`);
    }
    // Node never writes a body on these; what must not be there is a content type or length claiming one.
    if (status === 304 || status === 204) {
      if (headers['content-type']) violations.add(`${where}: a content type on a ${status}`);
      if (Number(headers['content-length'] ?? 0) > 0) violations.add(`${where}: a content length on a ${status}`);
      return;
    }
    const content = response.content as Record<string, Json> | undefined;
    const type = String(headers['content-type'] ?? '').split(';')[0] ?? '';
    if (!content?.[type]) return violations.add(`${where}: content type ${type || '(none)'} not documented`);
    if (type !== 'application/json') return;
    const text = typeof payload === 'string' ? payload : Buffer.isBuffer(payload) ? payload.toString() : '';
    const key = `${path} ${method} ${status}`;
    let validate = this.#validators.get(key);
    if (!validate) {
      const ref = `openapi.json${pointer('paths', path, method.toLowerCase(), 'responses', String(status), 'content', type, 'schema')}`;
      validate = this.#ajv.compile({ $ref: ref });
      this.#validators.set(key, validate);
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return violations.add(`${where}: the body is not JSON`);
    }
    if (!validate(body)) {
      violations.add(`${where}: ${this.#ajv.errorsText(validate.errors)} in ${text.slice(0, 300)}`);
    }
  }
}

/** The BFF's definition with every public answer checked against its own document. */
export function contractChecked<D extends AnyServiceDefinition>(definition: D): D {
  return {
    ...definition,
    routes: async (app: FastifyInstance, ctx: unknown) => {
      let checker: ContractChecker | undefined;
      app.addHook('onSend', async (request, reply, payload) => {
        const route = request.routeOptions.url;
        if (route === undefined || !/^\/(app|web)\/v1\//.test(route)) return payload;
        checker ??= new ContractChecker((app as unknown as { swagger(): Document }).swagger());
        checker.check(request.method, route, reply.statusCode, reply.getHeaders(), payload);
        return payload;
      });
      await (definition.routes as (a: FastifyInstance, c: unknown) => Promise<void>)(app, ctx);
    },
  } as D;
}

/** Throws when any checked answer broke the contract; the helpers call it when a test file's BFF closes. */
export function assertContractHeld() {
  if (violations.size === 0) return;
  const list = [...violations];
  violations.clear();
  throw new Error(`the BFF answered outside its OpenAPI document:\n  ${list.join('\n  ')}`);
}
