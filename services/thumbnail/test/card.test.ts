import fc from 'fast-check';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { cardSvg, escapeXml, sanitize, wrap } from '../src/card.ts';

const unescapeXml = (s: string) =>
  s
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&quot;', '"')
    .replaceAll('&apos;', "'")
    .replaceAll('&amp;', '&');

// Any UTF-16 text, lone surrogates and control characters included: titles come from users.
const anyText = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.string({ unit: 'grapheme', maxLength: 100 }),
  fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 200 }),
);
const WIDE =
  /[\u1100-\u115F\u2E80-\uA4CF\uAC00-\uD7A3\uF900-\uFAFF\uFE30-\uFE4F\uFF00-\uFF60\uFFE0-\uFFE6]|[\u{1F300}-\u{1FAFF}\u{20000}-\u{3FFFD}]/u;

describe('card text', () => {
  it('when any text is escaped, then no markup character survives and unescaping gives the sanitized text back', () => {
    fc.assert(
      fc.property(anyText, (text) => {
        const escaped = escapeXml(text);
        expect(escaped).not.toMatch(/[<>"']/);
        expect(escaped).not.toMatch(/&(?!(?:amp|lt|gt|quot|apos);)/);
        // biome-ignore lint/suspicious/noControlCharactersInRegex: what XML forbids must be gone
        expect(escaped).not.toMatch(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/);
        expect(escaped.isWellFormed()).toBe(true);
        expect(unescapeXml(escaped)).toBe(sanitize(text));
      }),
      // A prepended mark (U+0600) joins the wide character after it into one wide grapheme (found by this property).
      { numRuns: 500, examples: [['\u2E80\u0600\u2E80', 3, 1]] },
    );
  });

  it('when any text is wrapped, then it fits the lines, keeps its order, and only a cut ends with an ellipsis', () => {
    fc.assert(
      fc.property(
        anyText,
        fc.integer({ min: 2, max: 40 }),
        fc.integer({ min: 1, max: 4 }),
        (text, maxWidth, maxLines) => {
          const lines = wrap(text, maxWidth, maxLines);
          expect(lines.length).toBeLessThanOrEqual(maxLines);
          const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });
          for (const line of lines) {
            const width = [...segmenter.segment(line)].reduce((w, s) => w + (WIDE.test(s.segment) ? 2 : 1), 0);
            expect(width).toBeLessThanOrEqual(maxWidth);
          }
          const joined = lines.join('').replaceAll(' ', '');
          const original = sanitize(text).replaceAll(' ', '');
          expect(original.startsWith(joined.replace(/…$/, ''))).toBe(true);
          if (!joined.endsWith('…')) expect(joined).toBe(original);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('when any title and category are drawn, then sharp renders the card at its size', async () => {
    await fc.assert(
      fc.asyncProperty(anyText, fc.option(anyText, { nil: null }), async (title, category) => {
        const { info } = await sharp(Buffer.from(cardSvg({ title, category }, 320, 180)))
          .png()
          .toBuffer({ resolveWithObject: true });
        expect([info.width, info.height]).toEqual([320, 180]);
      }),
      { numRuns: 40 },
    );
  });

  it('when a title tries to close the text element, then it is shown as text and adds no element', () => {
    const svg = cardSvg({ title: '</tspan></text><image href="file:///etc/passwd"/><text>', category: '"><script>' });
    expect(svg).not.toContain('<image');
    expect(svg).not.toContain('<script');
    expect(svg).toContain('&lt;/tspan&gt;');
  });
});
