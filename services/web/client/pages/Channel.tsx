import { Follow } from '../islands/Follow.tsx';
import { Island } from '../islands/Island.tsx';
import { useT } from '../lib/i18n.ts';
import { usePage } from '../lib/page.ts';
import type { ChannelView, ProfileView } from '../lib/views.ts';
import { Degraded, isDegraded, Layout } from './Layout.tsx';

export function Channel(props: { view: ChannelView }) {
  const t = useT();
  const page = usePage();
  const v = props.view;
  return (
    <Layout>
      <h1>{v.channel.title}</h1>
      {v.channel.description && <p class="description">{v.channel.description}</p>}
      <div class="streamer">
        {isDegraded(v.meta, 'streamer') || !v.streamer ? (
          <Degraded section="streamer" />
        ) : (
          <>
            <a href={`/users/${v.streamer.id}`}>@{v.streamer.handle}</a>
            {page.me?.id !== v.streamer.id && (
              <Island
                name="follow"
                component={Follow}
                props={{
                  userId: v.streamer.id,
                  following: v.viewerFollows,
                  csrf: page.csrf,
                  loggedIn: page.me !== null,
                  back: page.path,
                }}
              />
            )}
          </>
        )}
      </div>
      {isDegraded(v.meta, 'liveStream') ? (
        <Degraded section="liveStream" />
      ) : (
        v.live && (
          <p>
            <span class="badge live">{t('stream.live')}</span>{' '}
            <a href={`/streams/${v.live.id}`}>{t('channel.liveNow', { title: v.live.title })}</a>
          </p>
        )
      )}
      <section aria-labelledby="archives">
        <h2 id="archives">{t('channel.archives')}</h2>
        {isDegraded(v.meta, 'archives') ? (
          <Degraded section="archives" />
        ) : v.archives.items.length === 0 ? (
          <p class="muted">{t('channel.noArchives')}</p>
        ) : (
          <ul class="archive-list" data-testid="archives">
            {v.archives.items.map((a) => (
              <li key={a.id}>
                <a href={`/archives/${a.id}`}>{a.title}</a>{' '}
                {a.durationSeconds !== null && (
                  <span class="muted">
                    {t('channel.duration', { minutes: Math.max(1, Math.round(a.durationSeconds / 60)) })}
                  </span>
                )}
              </li>
            ))}
          </ul>
        )}
      </section>
    </Layout>
  );
}

export function Profile(props: { view: ProfileView }) {
  const t = useT();
  const page = usePage();
  const v = props.view;
  const p = v.profile;
  return (
    <Layout>
      <h1 data-testid="profile-name">
        {p.displayName} <span class="muted">@{p.handle}</span>
      </h1>
      {p.bio && (
        <p class="bio" data-testid="bio">
          {p.bio}
        </p>
      )}
      <p class="muted">
        {t('profile.followers', { count: p.followersCount })} · {t('profile.following', { count: p.followingCount })}
      </p>
      {page.me?.id !== p.id && (
        <Island
          name="follow"
          component={Follow}
          props={{
            userId: p.id,
            following: v.viewerFollows,
            csrf: page.csrf,
            loggedIn: page.me !== null,
            back: page.path,
          }}
        />
      )}
      {isDegraded(v.meta, 'channel') ? (
        <Degraded section="channel" />
      ) : v.channel ? (
        <p>
          <a href={`/channels/${v.channel.id}`}>{t('profile.channel', { title: v.channel.title })}</a>
        </p>
      ) : (
        <p class="muted">{t('profile.noChannel')}</p>
      )}
    </Layout>
  );
}
