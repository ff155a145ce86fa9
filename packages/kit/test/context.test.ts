import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { validTraceparent } from '../src/context.ts';

const hex = (n: number) => fc.stringMatching(new RegExp(`^[0-9a-f]{${n}}$`));

describe('traceparent from a client', () => {
  it('when it is a W3C traceparent, then its trace id is kept', () => {
    fc.assert(
      fc.property(hex(32), hex(16), hex(2), (trace, parent, flags) => {
        fc.pre(!/^0+$/.test(trace) && !/^0+$/.test(parent));
        expect(validTraceparent(`00-${trace}-${parent}-${flags}`)?.traceId).toBe(trace);
      }),
    );
  });

  it('when it is anything else (forged JSON, script, wrong lengths, zeros, upper case), then it is dropped', () => {
    for (const bad of [
      'FORGED"}{<script>alert(1)</script>',
      `00-${'0'.repeat(32)}-${'a'.repeat(16)}-01`,
      `00-${'a'.repeat(32)}-${'0'.repeat(16)}-01`,
      `00-${'A'.repeat(32)}-${'a'.repeat(16)}-01`,
      `00-${'a'.repeat(32)}-${'a'.repeat(16)}-01-extra`,
      `ff-${'a'.repeat(32)}-${'a'.repeat(16)}-01`,
    ]) {
      expect(validTraceparent(bad)).toBeUndefined();
    }
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (s) => {
        const parsed = validTraceparent(s);
        if (parsed) expect(s).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/);
      }),
    );
  });
});
