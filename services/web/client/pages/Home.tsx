import { useT } from '../lib/i18n.ts';
import { usePage } from '../lib/page.ts';
import type { HomeView } from '../lib/views.ts';
import { StreamGrid } from './cards.tsx';
import { Degraded, isDegraded, Layout } from './Layout.tsx';

export function Home(props: { view: HomeView }) {
  const t = useT();
  const page = usePage();
  const v = props.view;
  return (
    <Layout>
      <section aria-labelledby="live-now">
        <h1 id="live-now">{t('home.liveNow')}</h1>
        {isDegraded(v.meta, 'liveNow') ? (
          <Degraded section="liveNow" />
        ) : (
          <StreamGrid streams={v.liveNow} empty={t('home.noLive')} testid="live-now" />
        )}
      </section>
      {page.me ? (
        <section aria-labelledby="following">
          <h2 id="following">{t('home.following')}</h2>
          {isDegraded(v.meta, 'following', 'liveNow') ? (
            <Degraded section="following" />
          ) : (
            <StreamGrid streams={v.followingLive} empty={t('home.noFollowingLive')} testid="following-live" />
          )}
        </section>
      ) : (
        <p class="muted">{t('home.loginForMore')}</p>
      )}
      <section aria-labelledby="featured">
        <h2 id="featured">{t('home.featured')}</h2>
        {isDegraded(v.meta, 'featured') ? (
          <Degraded section="featured" />
        ) : (
          <StreamGrid streams={v.featured} empty={t('home.noLive')} testid="featured" />
        )}
      </section>
      {page.me && (
        <section aria-labelledby="timeline">
          <h2 id="timeline">{t('home.timeline')}</h2>
          {isDegraded(v.meta, 'timeline') ? (
            <Degraded section="timeline" />
          ) : v.timeline.length === 0 ? (
            <p class="muted">{t('home.noTimeline')}</p>
          ) : (
            <ul class="timeline">
              {v.timeline.map((e) => (
                <li key={e.id}>
                  <a href={e.live ? `/streams/${e.streamId}` : `/archives/${e.streamId}`}>
                    {t(e.live ? 'timeline.wentLive' : 'timeline.streamed', {
                      handle: e.streamer?.handle ?? '?',
                      title: e.title,
                    })}
                  </a>{' '}
                  <time dateTime={e.at}>{new Date(e.at).toLocaleString(page.locale === 'ja' ? 'ja-JP' : 'en-GB')}</time>
                </li>
              ))}
            </ul>
          )}
        </section>
      )}
    </Layout>
  );
}
