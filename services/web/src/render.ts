import { Readable } from 'node:stream';
import type { FastifyReply } from 'fastify';

import type { PageContext, PageProps } from '../client/lib/pages.ts';

/** What the SSR bundle (dist/server/index.js, built from client/index.tsx) exports. */
export interface SsrModule {
  render(page: PageProps, ctx: PageContext): Readable;
  titleOf(page: PageProps, locale: PageContext['locale']): string;
  messages: Record<PageContext['locale'], Record<string, string>>;
}

const escapes: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => escapes[c] ?? c);

/** JSON inside a <script type="application/json">: nothing in it may close the element or start a comment. */
export const scriptJson = (value: unknown) =>
  JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');

/** Splits Vite's built index.html at its markers once; each page streams into the gap. */
export function pageWriter(template: string, ssr: SsrModule) {
  const [beforeLang, afterLang] = split(template, '<!-- lang -->');
  const [head, rest] = split(afterLang, '<!-- head -->');
  const [beforeBody, afterBody] = split(rest, '<!-- element -->');
  // The messages of each language, serialised once.
  const messagesOf = new Map(
    Object.entries(ssr.messages).map(([locale, m]) => [
      locale,
      `<script type="application/json" id="lh-messages">${scriptJson(m)}</script>`,
    ]),
  );
  return (reply: FastifyReply, page: PageProps, ctx: PageContext, status = 200) => {
    const title = escapeHtml(ssr.titleOf(page, ctx.locale));
    const body = ssr.render(page, ctx);
    const messages = messagesOf.get(ctx.locale) ?? '';
    async function* document() {
      yield `${beforeLang}${ctx.locale}${head}<title>${title}</title>${beforeBody}`;
      for await (const chunk of body) yield chunk as string | Buffer;
      yield `${messages}${afterBody}`;
    }
    return reply
      .code(status)
      .type('text/html; charset=utf-8')
      .header('cache-control', 'private, no-store')
      .send(Readable.from(document()));
  };
}

function split(s: string, marker: string): [string, string] {
  const i = s.indexOf(marker);
  if (i < 0) throw new Error(`web: the built index.html has no ${marker} marker`);
  return [s.slice(0, i), s.slice(i + marker.length)];
}
