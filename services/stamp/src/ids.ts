import { createHash } from 'node:crypto';

/** A UUID (version 8: custom) derived from a string: the same input gives the same id on every node. */
export function deterministicUuid(input: string) {
  const h = createHash('sha256').update(input).digest('hex');
  const variant = ((Number.parseInt(h[16] as string, 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
