import type { FastifyRequest } from 'fastify';

export const LOCALES = ['en', 'ja'] as const;
export type Locale = (typeof LOCALES)[number];
export const LANG_COOKIE = 'lh_lang';

const isLocale = (x: unknown): x is Locale => LOCALES.includes(x as Locale);

/** The switch's cookie first, then the best Accept-Language match (RFC 9110 q-values), English otherwise. */
export function negotiateLocale(cookie: string | undefined, acceptLanguage: string | undefined): Locale {
  if (isLocale(cookie)) return cookie;
  if (!acceptLanguage) return 'en';
  const ranked = acceptLanguage
    .split(',')
    .slice(0, 20)
    .map((part, i) => {
      const [tag = '', ...params] = part.trim().split(';');
      const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
      const quality = q ? Number(q.slice(2)) : 1;
      return { lang: tag.toLowerCase().split('-')[0], quality: Number.isFinite(quality) ? quality : 0, i };
    })
    .filter((x) => x.quality > 0)
    .sort((a, b) => b.quality - a.quality || a.i - b.i);
  return ranked.map((x) => x.lang).find(isLocale) ?? 'en';
}

export function localeOf(request: FastifyRequest): Locale {
  return negotiateLocale(request.cookies[LANG_COOKIE], request.headers['accept-language']);
}

/** A same-site path to go back to after a form or a switch: never another origin (no open redirect). */
export function safeBack(raw: unknown, fallback = '/'): string {
  if (typeof raw !== 'string' || raw.length > 2000) return fallback;
  if (!raw.startsWith('/') || raw.startsWith('//') || raw.startsWith('/\\')) return fallback;
  return /^[\x21-\x7e]*$/.test(raw) ? raw : fallback;
}
