import type { ComponentChildren } from 'preact';
import { useT } from '../lib/i18n.ts';
import { usePage } from '../lib/page.ts';

export function Layout(props: { children: ComponentChildren }) {
  const t = useT();
  const page = usePage();
  const back = encodeURIComponent(page.path);
  return (
    <>
      <a class="skip" href="#main">
        {t('site.skip')}
      </a>
      <header class="top">
        <a class="brand" href="/">
          {t('site.name')}
        </a>
        <nav aria-label="main">
          <a href="/">{t('nav.home')}</a>
          {page.me && <a href="/wallet">{t('nav.wallet')}</a>}
          {page.me && <a href="/dashboard">{t('nav.dashboard')}</a>}
        </nav>
        <div class="account">
          {page.me ? (
            <>
              <span class="whoami" data-testid="whoami">
                {t('nav.signedInAs', { handle: page.me.handle })}
              </span>
              <form method="post" action="/logout" class="inline">
                <input type="hidden" name="_csrf" value={page.csrf} />
                <button type="submit" class="link" data-testid="logout">
                  {t('nav.logout')}
                </button>
              </form>
            </>
          ) : (
            <>
              <a href={`/login?next=${back}`}>{t('nav.login')}</a>
              <a class="button" href={`/signup?next=${back}`}>
                {t('nav.signup')}
              </a>
            </>
          )}
          <nav class="lang" aria-label={t('nav.language')}>
            <a href={`/lang/en?back=${back}`} hreflang="en" aria-current={page.locale === 'en' ? 'true' : undefined}>
              EN
            </a>
            <a href={`/lang/ja?back=${back}`} hreflang="ja" aria-current={page.locale === 'ja' ? 'true' : undefined}>
              日本語
            </a>
          </nav>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {props.children}
      </main>
    </>
  );
}

/** A section that the BFF answered from a default: shown as such, never blank. */
export function Degraded(props: { section: string }) {
  const t = useT();
  return (
    <div class="degraded" role="status" data-degraded={props.section}>
      <strong>{t('degraded.title')}</strong>
      <p>{t('degraded.body')}</p>
    </div>
  );
}

export function isDegraded(meta: { degraded: string[] }, ...sections: string[]) {
  return sections.some((s) => meta.degraded.includes(s));
}
