/**
 * Bench only: the BFF with neither its public-section cache nor GET coalescing, so that every
 * request makes every backend call, exactly as the baseline does: what is left to compare is the
 * BFF's own cost (Fastify, validation, composition, breaker, bulkhead, shaping). Retries only
 * happen on failures, so the healthy runs do not miss them.
 */
import { ResilientBackend } from '@livehouse/kit';

ResilientBackend.prototype.get = async function get<T>(
  this: ResilientBackend,
  path: string,
  options: Parameters<ResilientBackend['call']>[2] = {},
) {
  return (await this.call<T>('GET', path, options)).body;
};
await import('./bff-nocache.ts');
