import { AppError } from './errors.ts';

/** Opaque cursors: base64url JSON of the last item's sort key. Clients must not build them. */
export function encodeCursor(key: readonly (string | number)[]): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

export function decodeCursor(cursor: string | undefined, arity: number): (string | number)[] | undefined {
  if (cursor === undefined) return undefined;
  try {
    const key: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (
      Array.isArray(key) &&
      key.length === arity &&
      key.every((k) => typeof k === 'string' || (typeof k === 'number' && Number.isFinite(k)))
    ) {
      return key as (string | number)[];
    }
  } catch {
    // fall through to the error below
  }
  throw new AppError('bad_request', 'the cursor is invalid: pass back a nextCursor exactly as received');
}

/** Fetch `limit + 1` rows; this trims the extra one and makes the next cursor from the last item kept. */
export function toPage<T>(rows: T[], limit: number, keyOf: (row: T) => (string | number)[]) {
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return { items, nextCursor: rows.length > limit && last ? encodeCursor(keyOf(last)) : null };
}
