import type { IncomingMessage } from 'node:http';
import proxyAddr from '@fastify/proxy-addr';

export type TrustProxy = false | readonly string[];

/**
 * Which peers may tell us the client's address (X-Forwarded-For): none, or those in the given CIDRs
 * (the load balancer's subnets). Fastify's `request.ip` and the BFF's WebSocket upgrade both use this
 * one function, so a client has the same address, and the same rate-limit bucket, on either path.
 */
export function trustedProxies(trust: TrustProxy): (address: string, hop: number) => boolean {
  if (trust === false || trust.length === 0) return () => false;
  return proxyAddr.compile([...trust]);
}

/** The client's address: the first untrusted hop, from the socket outwards through X-Forwarded-For. */
export function clientAddress(req: IncomingMessage, trust: (address: string, hop: number) => boolean): string {
  return proxyAddr(req, trust);
}
