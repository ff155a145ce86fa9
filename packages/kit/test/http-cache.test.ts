import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ifNoneMatch } from '../src/http-cache.ts';

const opaque = fc
  .string({ unit: fc.constantFrom(...'abcXYZ019-_.,:;/+='.split('')), maxLength: 12 })
  .filter((s) => !s.includes('"'));

describe('ifNoneMatch (RFC 9110 weak comparison)', () => {
  it('when the header lists the tag, weak or strong, among others, then it matches; `*` matches anything', () => {
    expect(ifNoneMatch('"a"', '"a"')).toBe(true);
    expect(ifNoneMatch('W/"a"', '"a"')).toBe(true);
    expect(ifNoneMatch('"a"', 'W/"a"')).toBe(true);
    expect(ifNoneMatch('"b", W/"a"', '"a"')).toBe(true);
    expect(ifNoneMatch(['"b"', '"a"'], '"a"')).toBe(true);
    expect(ifNoneMatch('*', '"a"')).toBe(true);
    expect(ifNoneMatch('"a,b"', '"a,b"')).toBe(true);
  });

  it('when the header is absent, malformed or names other tags, then it does not match', () => {
    for (const header of [undefined, '', 'a', '"b"', '"a,b"', 'W/a', '"a', 'w/"a"']) {
      expect(ifNoneMatch(header, '"a"'), String(header)).toBe(false);
    }
  });

  it('when any list of tags is sent, then it matches exactly when one has the same opaque part', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.boolean(), opaque), { maxLength: 5 }),
        fc.boolean(),
        opaque,
        (list, weak, tag) => {
          const header = list.map(([w, t]) => `${w ? 'W/' : ''}"${t}"`).join(', ');
          const expected = list.some(([, t]) => t === tag);
          expect(ifNoneMatch(header, `${weak ? 'W/' : ''}"${tag}"`)).toBe(expected);
        },
      ),
    );
  });
});
