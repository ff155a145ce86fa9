import { PassThrough, type Readable } from 'node:stream';
import { renderToPipeableStream } from 'preact-render-to-string/stream-node';
import { I18n, type Locale, type Messages } from './lib/i18n.ts';
import { Page, type PageContext } from './lib/page.ts';
import type { PageProps } from './lib/pages.ts';
import en from './messages/en.json';
import ja from './messages/ja.json';
import { Auth } from './pages/Auth.tsx';
import { Channel, Profile } from './pages/Channel.tsx';
import { Dashboard, ErrorPage } from './pages/Dashboard.tsx';
import { Home } from './pages/Home.tsx';
import { Stream } from './pages/Stream.tsx';
import { Wallet } from './pages/Wallet.tsx';

/** The SSR bundle's entry: the server (src/) calls render() with a page and its view. */

export const messages: Record<Locale, Messages> = { en, ja };

export type { PageProps };

function Body(props: { page: PageProps }) {
  const p = props.page;
  switch (p.name) {
    case 'home':
      return <Home view={p.view} />;
    case 'stream':
      return <Stream view={p.view} vod={false} src={p.src} stamps={p.stamps} />;
    case 'archive':
      return <Stream view={p.view} vod={true} src={p.src} stamps={null} />;
    case 'channel':
      return <Channel view={p.view} />;
    case 'profile':
      return <Profile view={p.view} />;
    case 'auth':
      return <Auth {...p.props} />;
    case 'wallet':
      return <Wallet view={p.view} />;
    case 'dashboard':
      return <Dashboard {...p.props} />;
    case 'error':
      return <ErrorPage status={p.status} message={p.message} />;
  }
}

/** The page's <title> (plain text: the server escapes it). */
export function titleOf(page: PageProps, locale: Locale): string {
  const m = messages[locale];
  const site = m['site.name'];
  switch (page.name) {
    case 'home':
      return site;
    case 'stream':
    case 'archive':
      return `${page.view.stream.title} · ${site}`;
    case 'channel':
      return `${page.view.channel.title} · ${site}`;
    case 'profile':
      return `@${page.view.profile.handle} · ${site}`;
    case 'auth':
      return `${m[page.props.mode === 'signup' ? 'auth.signupTitle' : 'auth.loginTitle']} · ${site}`;
    case 'wallet':
      return `${m['wallet.title']} · ${site}`;
    case 'dashboard':
      return `${m['dashboard.title']} · ${site}`;
    case 'error':
      return `${m['error.title']} · ${site}`;
  }
}

/** Streams the page's HTML (the body only; the server writes the document around it). */
export function render(page: PageProps, ctx: PageContext): Readable {
  const out = new PassThrough();
  const stream = renderToPipeableStream(
    <Page.Provider value={ctx}>
      <I18n.Provider value={messages[ctx.locale]}>
        <Body page={page} />
      </I18n.Provider>
    </Page.Provider>,
    {
      onShellReady() {
        stream.pipe(out);
      },
      onError(error: unknown) {
        out.destroy(error instanceof Error ? error : new Error(String(error)));
      },
    },
  );
  return out;
}
