import { isErrorCode } from '@livehouse/contracts';
import { AppError } from '@livehouse/kit';
import { Pool } from 'undici';

export interface BffAnswer<T> {
  status: number;
  body: T;
  /** Sections the BFF answered from a default (its `livehouse-degraded` header). */
  degraded: string[];
}

/**
 * The web server is a client of the BFF like any browser or app: public routes, the end user's
 * access token as a Bearer token (never an internal token). One keep-alive pool.
 */
export class BffClient {
  readonly #pool: Pool;
  readonly baseUrl: string;

  constructor(baseUrl: string, timeoutMs = 5000) {
    this.baseUrl = baseUrl;
    this.#pool = new Pool(baseUrl, { connections: 64, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
  }

  async call<T>(
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    path: string,
    options: { token?: string | undefined; body?: unknown; headers?: Record<string, string>; requestId?: string } = {},
  ): Promise<BffAnswer<T>> {
    const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    if (options.requestId) headers['x-request-id'] = options.requestId;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    let res: Awaited<ReturnType<Pool['request']>>;
    try {
      res = await this.#pool.request({
        method,
        path,
        headers,
        ...(options.body !== undefined && { body: JSON.stringify(options.body) }),
      });
    } catch (err) {
      throw new AppError('service_unavailable', `the public API did not answer (${(err as Error).message})`);
    }
    const text = await res.body.text();
    const body = (text ? JSON.parse(text) : undefined) as T;
    const degraded = res.headers['livehouse-degraded'];
    return {
      status: res.statusCode,
      body,
      degraded: typeof degraded === 'string' && degraded ? degraded.split(',') : [],
    };
  }

  close() {
    return this.#pool.close();
  }
}

export interface ErrorBody {
  error?: { code?: string; message?: string };
}

/** The BFF's error as ours: its 4xx codes pass through; anything else is its failure. */
export function bffError(answer: BffAnswer<unknown>): AppError {
  const e = (answer.body as ErrorBody | undefined)?.error;
  if (answer.status < 500 && e?.code && isErrorCode(e.code)) return new AppError(e.code, e.message ?? e.code);
  return new AppError('service_unavailable', 'the public API failed; try again');
}
