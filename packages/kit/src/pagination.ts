import { AppError } from './errors.ts';

/** A part of a list's sort key: an epoch-ms time, a non-negative integer, or a UUID (row ids). */
export type CursorPart = 'time' | 'int' | 'uuid';
type PartValue<K extends CursorPart> = K extends 'time' ? Date : K extends 'int' ? number : string;
export type CursorKey<P extends readonly CursorPart[]> = { -readonly [I in keyof P]: PartValue<P[I]> };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const count = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

// Cursors are opaque but come from clients: a forged one is a 400 with this message, never a SQL error.
const invalidCursor = () =>
  new AppError('bad_request', 'the cursor is invalid: pass back a nextCursor exactly as received');

/** Opaque cursors: base64url JSON of the last item's sort key (times as epoch ms). Clients must not build them. */
export function encodeCursor(key: readonly (string | number | Date)[]): string {
  return Buffer.from(JSON.stringify(key.map((k) => (k instanceof Date ? k.getTime() : k)))).toString('base64url');
}

/** The sort key a cursor carries, each part checked against its kind; undefined without a cursor, 400 if forged. */
export function decodeCursor<const P extends readonly CursorPart[]>(
  cursor: string | undefined,
  parts: P,
): CursorKey<P> | undefined {
  if (cursor === undefined) return undefined;
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalidCursor();
  }
  if (!Array.isArray(key) || key.length !== parts.length) throw invalidCursor();
  return parts.map((kind, i) => {
    const v: unknown = key[i];
    if (kind === 'uuid' && typeof v === 'string' && UUID.test(v)) return v;
    if (kind === 'int' && count(v)) return v;
    if (kind === 'time' && count(v)) return new Date(v);
    throw invalidCursor();
  }) as CursorKey<P>;
}

/** Fetch `limit + 1` rows; this trims the extra one and makes the next cursor from the last item kept. */
export function toPage<T>(rows: T[], limit: number, keyOf: (row: T) => (string | number | Date)[]) {
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return { items, nextCursor: rows.length > limit && last ? encodeCursor(keyOf(last)) : null };
}
