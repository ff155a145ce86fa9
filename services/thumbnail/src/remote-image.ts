import { lookup as dnsLookup } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { Agent, fetch } from 'undici';

/** Addresses a server-side fetch of a user-supplied URL must never reach (SSRF): RFC 1918, loopback, link-local, … */
export const privateNetworks = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 3],
] as const) {
  privateNetworks.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['64:ff9b::', 96],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const) {
  privateNetworks.addSubnet(net, prefix, 'ipv6');
}
// No ::ffff:0:0/96 rule: BlockList would match every IPv4 address against it. Mapped addresses are unwrapped below.

export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return true;
  // IPv4-mapped IPv6 (::ffff:10.0.0.1) is judged as the IPv4 address it carries.
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return privateNetworks.check(mapped[1] as string, 'ipv4');
  return privateNetworks.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

export class RemoteImageError extends Error {
  override name = 'RemoteImageError';
}

/** Resolves like the system does, then refuses private answers: checked at connect time, so DNS rebinding gains nothing. */
const publicOnlyLookup: LookupFunction = (hostname, options, callback) => {
  dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) return callback(err, '', 0);
    const allowed = addresses.filter((a) => !isPrivateAddress(a.address));
    if (allowed.length === 0) {
      return callback(new RemoteImageError(`${hostname} resolves to a private address`), '', 0);
    }
    if (options.all) return (callback as unknown as (e: null, a: typeof allowed) => void)(null, allowed);
    const first = allowed[0] as (typeof allowed)[number];
    callback(null, first.address, first.family);
  });
};

export interface RemoteImageOptions {
  allowPrivateNetworks: boolean;
  timeoutMs: number;
  maxBytes: number;
}

/** Fetches a channel's image URL: http(s) only, public addresses only (unless allowed), bounded in time and size. */
export class RemoteImageFetcher {
  readonly #options: RemoteImageOptions;
  readonly #agent: Agent;

  constructor(options: RemoteImageOptions) {
    this.#options = options;
    this.#agent = new Agent({
      connections: 8,
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
      ...(!options.allowPrivateNetworks && { connect: { lookup: publicOnlyLookup } }),
    });
  }

  async fetch(url: string): Promise<Buffer> {
    const target = new URL(url);
    if (target.protocol !== 'http:' && target.protocol !== 'https:') {
      throw new RemoteImageError(`refusing to fetch a ${target.protocol} URL`);
    }
    // An IP literal never goes through the lookup: check it here.
    const host = target.hostname.replace(/^\[|\]$/g, '');
    if (!this.#options.allowPrivateNetworks && isIP(host) && isPrivateAddress(host)) {
      throw new RemoteImageError(`refusing to fetch from the private address ${host}`);
    }
    const res = await fetch(target, {
      dispatcher: this.#agent,
      // Redirects could lead to a private IP literal, which skips the lookup: follow none.
      redirect: 'error',
      headers: { accept: 'image/jpeg, image/png, image/webp' },
      signal: AbortSignal.timeout(this.#options.timeoutMs),
    });
    if (!res.ok || !res.body) {
      await res.body?.cancel();
      throw new RemoteImageError(`${target.host} answered ${res.status}`);
    }
    const declared = Number(res.headers.get('content-length') ?? 0);
    if (declared > this.#options.maxBytes) {
      await res.body.cancel();
      throw new RemoteImageError(`the image is larger than ${this.#options.maxBytes} bytes`);
    }
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const chunk of res.body) {
      total += chunk.byteLength;
      if (total > this.#options.maxBytes) {
        throw new RemoteImageError(`the image is larger than ${this.#options.maxBytes} bytes`);
      }
      chunks.push(Buffer.from(chunk));
    }
    return Buffer.concat(chunks);
  }

  close() {
    return this.#agent.close();
  }
}
