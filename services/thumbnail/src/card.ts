/** The generated card a stream gets when its channel has no image: title and category on a tinted background. */

// Characters XML 1.0 forbids even when escaped; librsvg refuses a document that has them.
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are exactly what we remove
const XML_FORBIDDEN = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F\uFFFE\uFFFF]/g;

/** Text as it can appear in an SVG text node or attribute: well-formed Unicode, markup characters escaped. */
export function escapeXml(text: string): string {
  return sanitize(text)
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&apos;');
}

/** What of a user's text can be shown at all: lone surrogates become U+FFFD, control characters go. */
export function sanitize(text: string): string {
  return text.toWellFormed().replace(XML_FORBIDDEN, '').replace(/\s+/g, ' ').trim();
}

const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });
const graphemes = (text: string) => Array.from(segmenter.segment(text), (s) => s.segment);

// East Asian wide and fullwidth characters and emoji take about twice the width of a Latin letter. A grapheme is
// wide when any of its code points is: a prepended mark (U+0600) before a CJK character still draws it wide.
const WIDE =
  /[\u1100-\u115F\u2E80-\uA4CF\uAC00-\uD7A3\uF900-\uFAFF\uFE30-\uFE4F\uFF00-\uFF60\uFFE0-\uFFE6]|[\u{1F300}-\u{1FAFF}\u{20000}-\u{3FFFD}]/u;
const widthOf = (grapheme: string) => (WIDE.test(grapheme) ? 2 : 1);
const widthOfAll = (chars: readonly string[]) => chars.reduce((w, c) => w + widthOf(c), 0);

/** Cuts off the longest start of `chars` whose width fits `max` (at least one grapheme when wrapping, so that it ends). */
function cut(chars: string[], max: number, atLeastOne = true): [string[], string[]] {
  let width = 0;
  let i = 0;
  while (i < chars.length && width + widthOf(chars[i] as string) <= max) width += widthOf(chars[i++] as string);
  const at = atLeastOne ? Math.max(1, i) : i;
  return [chars.slice(0, at), chars.slice(at)];
}

/**
 * Greedy word wrap to at most `maxLines` lines of `maxWidth` units (a Latin letter is one unit, a
 * CJK character two: an estimate, the font's real widths are unknown here); words longer than a
 * line, as in CJK titles without spaces, are cut; text that does not fit ends with an ellipsis.
 */
export function wrap(text: string, maxWidth: number, maxLines: number): string[] {
  const lines: string[][] = [];
  let current: string[] = [];
  for (const word of sanitize(text).split(' ')) {
    if (!word) continue;
    let chars = graphemes(word);
    const needed = current.length === 0 ? widthOfAll(chars) : widthOfAll(current) + 1 + widthOfAll(chars);
    if (needed <= maxWidth) {
      current = current.length === 0 ? chars : [...current, ' ', ...chars];
      continue;
    }
    if (current.length > 0) lines.push(current);
    current = [];
    while (widthOfAll(chars) > maxWidth) {
      const [head, rest] = cut(chars, maxWidth);
      lines.push(head);
      chars = rest;
    }
    current = chars;
  }
  if (current.length > 0) lines.push(current);
  if (lines.length <= maxLines) return lines.map((l) => l.join(''));
  const kept = lines.slice(0, maxLines);
  const [head] = cut(kept[maxLines - 1] as string[], maxWidth - 1, false);
  kept[maxLines - 1] = [...head, '…'];
  return kept.map((l) => l.join(''));
}

/** A stable hue per text, so one channel's cards look alike and different channels differ. */
export function hueOf(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return (h >>> 0) % 360;
}

export interface CardText {
  title: string;
  category: string | null;
}

/** An SVG of `width`×`height`; every piece of user text in it goes through escapeXml. */
export function cardSvg({ title, category }: CardText, width = 1280, height = 720): string {
  const hue = hueOf(category ?? title);
  const pad = Math.round(width * 0.06);
  const titleSize = Math.round(height * 0.1);
  const categorySize = Math.round(height * 0.045);
  const maxChars = Math.max(8, Math.floor((width - 2 * pad) / (titleSize * 0.56)));
  const lines = wrap(title, maxChars, 3);
  const lineHeight = Math.round(titleSize * 1.2);
  const titleTop = height - pad - lineHeight * (lines.length - 1);
  const font = "'DejaVu Sans', 'Noto Sans', 'Noto Sans CJK JP', Arial, sans-serif";
  const categoryText = category ? wrap(category, Math.floor((width - 2 * pad) / (categorySize * 0.6)), 1)[0] : '';
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    '<defs><linearGradient id="bg" x1="0" y1="0" x2="1" y2="1">',
    `<stop offset="0" stop-color="hsl(${hue}, 55%, 32%)"/>`,
    `<stop offset="1" stop-color="hsl(${(hue + 40) % 360}, 60%, 12%)"/>`,
    '</linearGradient></defs>',
    `<rect width="${width}" height="${height}" fill="url(#bg)"/>`,
    `<rect x="${pad}" y="${pad}" width="${Math.round(titleSize * 1.3)}" height="${Math.round(categorySize * 1.5)}" rx="6" fill="#e91916"/>`,
    `<text x="${pad + Math.round(titleSize * 0.65)}" y="${pad + Math.round(categorySize * 1.1)}" text-anchor="middle" font-family="${font}" font-size="${categorySize}" font-weight="bold" fill="#fff">LIVE</text>`,
    categoryText
      ? `<text x="${pad + Math.round(titleSize * 1.6)}" y="${pad + Math.round(categorySize * 1.1)}" font-family="${font}" font-size="${categorySize}" fill="#ddd">${escapeXml(categoryText)}</text>`
      : '',
    `<text font-family="${font}" font-size="${titleSize}" font-weight="bold" fill="#fff">`,
    ...lines.map((line, i) => `<tspan x="${pad}" y="${titleTop + i * lineHeight}">${escapeXml(line)}</tspan>`),
    '</text>',
    '</svg>',
  ].join('');
}
