import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AppError } from '../src/errors.ts';
import { decodeCursor, encodeCursor } from '../src/pagination.ts';

const message = (f: () => unknown) => {
  try {
    f();
    return 'accepted';
  } catch (err) {
    return err instanceof AppError ? `${err.code}: ${err.message}` : String(err);
  }
};
const refused = 'bad_request: the cursor is invalid: pass back a nextCursor exactly as received';

describe('cursors (every paginated list)', () => {
  it('when a sort key is encoded, then it decodes to the same parts, a time as a Date', () => {
    fc.assert(
      fc.property(
        fc.date({ min: new Date(0), max: new Date(8.64e15), noInvalidDate: true }),
        fc.uuid(),
        fc.nat(),
        (at, id, n) => {
          expect(decodeCursor(encodeCursor([at, id, n]), ['time', 'uuid', 'int'])).toEqual([at, id, n]);
        },
      ),
    );
    expect(decodeCursor(undefined, ['int'])).toBeUndefined();
  });

  it('when a cursor is forged, then 400 with the one message, whatever part is wrong', () => {
    const forged = (key: unknown) => Buffer.from(JSON.stringify(key)).toString('base64url');
    const id = '2b4500da-d0bd-44ee-a5c6-d27c945625e1';
    for (const cursor of [
      forged(['yesterday', id]),
      forged([Date.now(), 'not-a-uuid']),
      forged([-1, id]),
      forged([1.5, id]),
      forged([Number.MAX_SAFE_INTEGER + 2, id]),
      forged([Date.now()]),
      forged({ at: 1, id }),
      '%%%',
      '',
    ]) {
      expect(
        message(() => decodeCursor(cursor, ['time', 'uuid'])),
        cursor,
      ).toBe(refused);
    }
  });
});
