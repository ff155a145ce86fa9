import { AppError } from '@livehouse/kit';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { errorFrame, FrameBudget, parseClientFrame } from '../src/frames.ts';
import { visibleItems } from '../src/room.ts';

// The pure parts of chat's protocol, on their own (the socket-level behaviour is in chat.test.ts).
describe('frames', () => {
  it('when frames come faster than the rate, then the bucket allows a burst of twice the rate, then refills at the rate', () => {
    const budget = new FrameBudget(10, 20, 0);
    let allowed = 0;
    while (budget.take(0)) allowed++;
    expect(allowed).toBe(20);
    expect(budget.take(50)).toBe(false); // half a token
    expect(budget.take(100)).toBe(true); // one token after 100 ms at 10/s
    expect(budget.take(100)).toBe(false);
    // Never more than the burst, however long the pause.
    let after = 0;
    while (budget.take(3_600_000)) after++;
    expect(after).toBe(20);
  });

  it('when any sequence of frame times is spent, then no second holds more than the burst plus the rate', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 5000 }), { maxLength: 300 }), (gaps) => {
        const budget = new FrameBudget(10, 20, 0);
        let now = 0;
        const allowedAt: number[] = [];
        for (const gap of gaps) {
          now += gap % 7 === 0 ? 0 : gap % 200;
          if (budget.take(now)) allowedAt.push(now);
        }
        for (const t of allowedAt)
          expect(allowedAt.filter((u) => u >= t && u < t + 1000).length).toBeLessThanOrEqual(30);
      }),
    );
  });

  it('when invalid frames exceed the allowance within a minute, then the budget says so; a new minute starts over', () => {
    const budget = new FrameBudget(10, 3, 0);
    expect([budget.invalid(1), budget.invalid(2), budget.invalid(3), budget.invalid(4)]).toEqual([
      true,
      true,
      true,
      false,
    ]);
    expect(budget.invalid(60_010)).toBe(true);
  });

  it('when a frame is binary, not JSON, an unknown type or a bad field, then the matching code; valid frames parse', () => {
    expect(parseClientFrame('', true)).toMatchObject({ ok: false, code: 'unsupported_media_type' });
    expect(parseClientFrame('{nope', false)).toMatchObject({ ok: false, code: 'invalid_json' });
    expect(parseClientFrame('{"type":"shout"}', false)).toMatchObject({
      ok: false,
      code: 'validation_failed',
      message: expect.stringMatching(/unknown frame type/),
    });
    expect(parseClientFrame('{"type":"send","text":42}', false)).toMatchObject({
      ok: false,
      code: 'validation_failed',
      message: 'invalid send frame: see PROTOCOL.md',
    });
    // A frame the schema refuses still carries its ref back (an unpaired surrogate in the text, say).
    expect(parseClientFrame(JSON.stringify({ type: 'send', text: '\ud800', ref: 'r9' }), false)).toMatchObject({
      ok: false,
      code: 'validation_failed',
      ref: 'r9',
    });
    expect(parseClientFrame('{"type":"send","text":"hi","ref":"r1"}', false)).toEqual({
      ok: true,
      frame: { type: 'send', text: 'hi', ref: 'r1' },
    });
  });

  it('when the text is any string, then parsing never throws and answers ok or one of the three codes', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json()), fc.boolean(), (text, binary) => {
        const parsed = parseClientFrame(text, binary);
        if (!parsed.ok) expect(['unsupported_media_type', 'invalid_json', 'validation_failed']).toContain(parsed.code);
        else expect(binary).toBe(false);
      }),
    );
  });

  it('when an action fails, then our errors keep their code and retry time; anything else is internal_error and logged', () => {
    const limited = new AppError('rate_limited', 'muted', { headers: { 'retry-after-ms': '1500' } });
    expect(errorFrame('r1', limited)).toEqual({
      unexpected: false,
      frame: { type: 'error', ref: 'r1', code: 'rate_limited', message: 'muted', retryAfterMs: 1500 },
    });
    expect(errorFrame(undefined, new Error('db down'))).toEqual({
      unexpected: true,
      frame: { type: 'error', code: 'internal_error', message: 'something went wrong on our side' },
    });
  });

  it('when items include deletes and control items, then the visible ones are undeleted messages and stamps, in order', () => {
    const e = (id: number, body: Record<string, unknown>) => ({
      id,
      type: body.type as string,
      json: JSON.stringify({ id, ...body }),
    });
    const items = visibleItems([
      e(1, { type: 'message', text: 'a' }),
      e(2, { type: 'stamp', txId: 't' }),
      e(3, { type: 'message', text: 'b' }),
      e(4, { type: 'delete', messageId: 1 }),
      e(5, { type: 'ban', userId: 'u' }),
    ]);
    expect(items.map((j) => JSON.parse(j).id)).toEqual([2, 3]);
  });
});
