import { request } from 'node:http';
import { request as requestTls } from 'node:https';

/**
 * Each simulated user connects from its own loopback address (127.0.0.0/8 is all loopback on
 * Linux), as real users come from their own IPs: the BFF's per-IP rate limits then see many
 * clients, not one. Only used when the target is on this machine.
 */
export class SourceAddresses {
  #next = 0;
  readonly enabled: boolean;

  constructor(target: string) {
    const host = new URL(target).hostname;
    this.enabled = /^127\./.test(host) && process.platform === 'linux';
  }

  /** 127.1.0.1, 127.1.0.2, … (skips .0 and .255). */
  take(): string | undefined {
    if (!this.enabled) return undefined;
    const n = this.#next++;
    const a = Math.floor(n / 254);
    return `127.${1 + Math.floor(a / 256)}.${a % 256}.${1 + (n % 254)}`;
  }
}

export interface JsonResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  // biome-ignore lint/suspicious/noExplicitAny: callers read the public API's JSON
  body: any;
}

/** A small JSON client for the set-up steps (not measured); `from` is the source address. */
export function callJson(
  url: string,
  options: { method?: string; body?: unknown; token?: string; headers?: Record<string, string>; from?: string },
): Promise<JsonResponse> {
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
  const u = new URL(url);
  const send = u.protocol === 'https:' ? requestTls : request;
  return new Promise((resolve, reject) => {
    const req = send(
      u,
      {
        method: options.method ?? 'GET',
        headers: {
          accept: 'application/json',
          ...(payload !== undefined && { 'content-type': 'application/json' }),
          ...(options.token && { authorization: `Bearer ${options.token}` }),
          ...options.headers,
        },
        ...(options.from && { localAddress: options.from }),
        timeout: 30_000,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () => {
          let body: unknown;
          try {
            body = text ? JSON.parse(text) : undefined;
          } catch {
            body = text;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${options.method ?? 'GET'} ${url}: no answer in 30 s`)));
    req.on('error', reject);
    req.end(payload);
  });
}
