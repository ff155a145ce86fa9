import { useT } from '../lib/i18n.ts';
import { usePage } from '../lib/page.ts';
import type { DashboardProps } from '../lib/pages.ts';
import { Degraded, Layout } from './Layout.tsx';

export function Dashboard(props: DashboardProps) {
  const t = useT();
  const page = usePage();
  const csrf = <input type="hidden" name="_csrf" value={page.csrf} />;
  const c = props.channel;
  return (
    <Layout>
      <h1>{t('dashboard.title')}</h1>
      {props.error && (
        <p class="error" role="alert">
          {props.error}
        </p>
      )}
      {c === 'degraded' ? (
        <Degraded section="channel" />
      ) : c === null ? (
        <form method="post" action="/dashboard/channel" class="stack">
          <h2>{t('dashboard.becomeStreamer')}</h2>
          {csrf}
          <label>
            {t('dashboard.channelTitle')}
            <input name="title" required maxLength={100} />
          </label>
          <button type="submit" class="button">
            {t('dashboard.create')}
          </button>
        </form>
      ) : (
        <>
          <p>
            <a href={`/channels/${c.id}`}>{t('dashboard.channel', { title: c.title })}</a>
          </p>
          <section aria-labelledby="key-title" class="panel">
            <h2 id="key-title">{t('dashboard.streamKey')}</h2>
            {props.streamKey ? (
              <>
                <p>
                  <code class="key" data-testid="stream-key">
                    {props.streamKey}
                  </code>
                </p>
                <p class="warn">{t('dashboard.streamKeyOnce')}</p>
              </>
            ) : (
              <p class="muted">{t('dashboard.streamKeyHidden')}</p>
            )}
            <form method="post" action="/dashboard/stream-key" class="inline">
              {csrf}
              <button type="submit" class="button secondary" data-testid="regenerate-key">
                {t('dashboard.regenerate')}
              </button>
            </form>
          </section>
          <section aria-labelledby="live-title" class="panel">
            <h2 id="live-title">{t('dashboard.goLiveTitle')}</h2>
            <p>{t('dashboard.howTo', { server: props.ingestUrl })}</p>
            {props.live ? (
              <>
                <p data-testid="stream-state">
                  {t('dashboard.state', { state: t(`state.${props.live.state as 'live'}`) })}
                </p>
                <p>
                  <a href={`/streams/${props.live.id}`}>{t('dashboard.watch')}</a>
                </p>
                <form method="post" action={`/dashboard/streams/${props.live.id}/end`} class="inline">
                  {csrf}
                  <button type="submit" class="button secondary">
                    {t('dashboard.end')}
                  </button>
                </form>
              </>
            ) : (
              <>
                <p data-testid="stream-state">{t('dashboard.notLive')}</p>
                <form method="post" action="/dashboard/streams" class="stack">
                  {csrf}
                  <label>
                    {t('dashboard.streamTitle')}
                    <input name="title" required maxLength={140} />
                  </label>
                  <button type="submit" class="button">
                    {t('dashboard.start')}
                  </button>
                </form>
              </>
            )}
          </section>
        </>
      )}
    </Layout>
  );
}

export function ErrorPage(props: { status: number; message: string }) {
  const t = useT();
  return (
    <Layout>
      <div class="error-page" data-status={props.status}>
        <h1>{props.status === 404 ? t('error.notFound') : t('error.title')}</h1>
        <p>{props.message}</p>
        <p>
          <a href="/">{t('error.home')}</a>
        </p>
      </div>
    </Layout>
  );
}
