import { createHash } from 'node:crypto';
import { AppError, type Caller, idempotencyKey } from '@livehouse/kit';
import type { Kysely, Transaction } from 'kysely';
import type { PointDatabase } from './db.ts';
import * as repo from './ledger.repository.ts';

/**
 * Idempotent writes. The key row is inserted first, in the transaction of the transfer, so a
 * concurrent request with the same key blocks on it until the first commits, then reads the stored
 * answer (or, if the first rolled back, runs itself). The answer is stored in that same
 * transaction: a transfer exists if and only if its answer does.
 */
export interface IdempotentRequest {
  /** Whose keys: the end user, or the calling service when there is none. */
  scope: string;
  key: string;
  /** Method, path and canonical body: the same key with anything else is refused. */
  hash: string;
  requestId: string;
}

export interface Answer {
  status: number;
  body: unknown;
  /** True when this is a stored answer to an earlier request with the same key. */
  replayed: boolean;
}

/**
 * What the work inside an idempotent transaction decided:
 * - `done`: committed with this answer (`stored` when the work already wrote it with its records);
 * - `refused`: a business refusal (insufficient points, unknown transfer, …) decided before anything
 *   was written, stored as the key's answer like a success, so a retry gets the same refusal;
 * - `sweep`: the owner's main account cannot pay but the wallet can: roll back, sweep, run again.
 */
export type Outcome<A> =
  | { kind: 'done'; answer: A; stored: boolean }
  | { kind: 'refused'; error: AppError }
  | { kind: 'sweep'; owner: string };

/** What running the request ended in: an answer to send, or a sweep to do before running it again. */
export type Run = ({ kind: 'answer' } & Answer) | { kind: 'sweep'; owner: string };

export function idempotentRequest(
  caller: Caller,
  header: string | string[] | undefined,
  request: { method: string; path: string; body: unknown; requestId: string },
): IdempotentRequest {
  const key = idempotencyKey({ 'idempotency-key': header });
  const scope = caller.user ? `user:${caller.user.id}` : `service:${caller.service}`;
  const hash = createHash('sha256')
    .update(`${request.method} ${request.path}\n${canonicalJson(request.body ?? null)}`)
    .digest('base64url');
  return { scope, key, hash, requestId: request.requestId };
}

/** JSON with object keys sorted, so that key order never makes two equal bodies differ. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    // sort() without a comparator orders by UTF-16 code units, as `<` does: the same text as before, without the entries' arrays.
    const keys = Object.keys(value).sort();
    let out = '';
    for (const k of keys) {
      const v = (value as Record<string, unknown>)[k];
      if (v === undefined) continue;
      out += `${out ? ',' : ''}${JSON.stringify(k)}:${canonicalJson(v)}`;
    }
    return `{${out}}`;
  }
  return JSON.stringify(value);
}

/**
 * Claims the key for this transaction, possibly together with the first step of the work (a spend
 * claims and debits in one statement): undefined when another request holds or held the key.
 */
export type Claim<C> = (trx: Transaction<PointDatabase>, request: IdempotentRequest) => Promise<C | undefined>;

export const claimKeyOnly: Claim<true> = async (trx, request) =>
  (await repo.claimKey(trx, request.scope, request.key, request.hash)) ? true : undefined;

export async function runIdempotent<C, A>(
  db: Kysely<PointDatabase>,
  request: IdempotentRequest,
  claim: Claim<C>,
  work: (trx: Transaction<PointDatabase>, claimed: C) => Promise<Outcome<A>>,
): Promise<Run> {
  try {
    return await retryTransient(() =>
      db.transaction().execute(async (trx): Promise<Run> => {
        const claimed = await claim(trx, request);
        if (claimed === undefined) return replay(await repo.findKey(trx, request.scope, request.key), request);
        const outcome = await work(trx, claimed);
        if (outcome.kind === 'sweep') throw new RollBack(outcome.owner);
        if (outcome.kind === 'done') {
          if (!outcome.stored) await repo.storeAnswer(trx, request.scope, request.key, 201, outcome.answer);
          return { kind: 'answer', status: 201, body: outcome.answer, replayed: false };
        }
        const { error } = outcome;
        const body = { error: { code: error.code, message: error.message, requestId: request.requestId } };
        await repo.storeAnswer(trx, request.scope, request.key, error.status, body);
        return { kind: 'answer', status: error.status, body, replayed: false };
      }),
    );
  } catch (err) {
    // The only way to roll a Kysely transaction back is to throw out of it; the sentinel never leaves here.
    if (err instanceof RollBack) return { kind: 'sweep', owner: err.owner };
    throw err;
  }
}

class RollBack extends Error {
  readonly owner: string;
  constructor(owner: string) {
    super(`roll back to sweep ${owner}`);
    this.owner = owner;
  }
}

function replay(stored: Awaited<ReturnType<typeof repo.findKey>>, request: IdempotentRequest): Run {
  if (!stored || stored.status === null) throw transient('idempotency key row without an answer');
  if (stored.request_hash !== request.hash) {
    throw new AppError(
      'idempotency_key_reused',
      'this Idempotency-Key was used with another request: use a new key for a new request',
    );
  }
  return { kind: 'answer', status: stored.status, body: stored.response, replayed: true };
}

const TRANSIENT = new Set(['40001', '40P01']);
const MAX_ATTEMPTS = 6;

function transient(message: string) {
  return Object.assign(new Error(message), { code: '40001' });
}

export function isTransient(err: unknown) {
  return TRANSIENT.has((err as { code?: string } | undefined)?.code ?? '');
}

/** Retries serialization failures and deadlocks with jittered backoff; then answers 503, never a business error. */
export async function retryTransient<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!isTransient(err)) throw err;
      if (attempt >= MAX_ATTEMPTS) {
        throw new AppError('service_unavailable', 'the ledger is too busy right now: retry with the same key', {
          headers: { 'retry-after': '1' },
          cause: err,
        });
      }
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * attempt));
    }
  }
}
