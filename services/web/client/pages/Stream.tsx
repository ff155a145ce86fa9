import { Chat } from '../islands/Chat.tsx';
import { Follow } from '../islands/Follow.tsx';
import { Island } from '../islands/Island.tsx';
import { Player } from '../islands/Player.tsx';
import { useT } from '../lib/i18n.ts';
import { usePage } from '../lib/page.ts';
import type { StampItem, StreamView } from '../lib/views.ts';
import { Degraded, isDegraded, Layout } from './Layout.tsx';

/** The live stream page, and (vod) the archive page of an ended stream. */
export function Stream(props: { view: StreamView; vod: boolean; src: string | null; stamps: StampItem[] | null }) {
  const t = useT();
  const page = usePage();
  const v = props.view;
  const s = v.stream;
  return (
    <Layout>
      <div class={props.vod ? 'stream-page vod' : 'stream-page'}>
        <div class="stage">
          {isDegraded(v.meta, 'playback') && <Degraded section="playback" />}
          <Island
            name="player"
            component={Player}
            props={{ streamId: s.id, state: s.state, src: props.src, vod: props.vod }}
          />
          <div class="stream-info">
            <h1 data-testid="stream-title">{s.title}</h1>
            <p class="stream-meta">
              {s.state === 'live' && <span class="badge live">{t('stream.live')}</span>}{' '}
              {s.state === 'live' && t('stream.viewers', { count: s.viewerCount })}
              {s.category ? ` · ${s.category.name}` : ''}
            </p>
            <div class="streamer">
              {isDegraded(v.meta, 'streamer') || !s.streamer ? (
                <Degraded section="streamer" />
              ) : (
                <>
                  <a href={`/users/${s.streamer.id}`} class="streamer-name">
                    {s.streamer.displayName} <span class="muted">@{s.streamer.handle}</span>
                  </a>
                  {page.me?.id !== s.streamer.id && (
                    <Island
                      name="follow"
                      component={Follow}
                      props={{
                        userId: s.streamer.id,
                        following: v.viewerFollows,
                        csrf: page.csrf,
                        loggedIn: page.me !== null,
                        back: page.path,
                      }}
                    />
                  )}
                </>
              )}
              <a href={`/channels/${s.channel.id}`}>
                {t('stream.channel')}: {s.channel.title}
              </a>
            </div>
            {isDegraded(v.meta, 'channel') ? (
              <Degraded section="channel" />
            ) : (
              v.channel?.description && <p class="description">{v.channel.description}</p>
            )}
          </div>
          <section class="supporters" aria-labelledby="supporters-title">
            <h2 id="supporters-title">{t('stream.topSupporters')}</h2>
            {isDegraded(v.meta, 'supporters') ? (
              <Degraded section="supporters" />
            ) : v.topSupporters.length === 0 ? (
              <p class="muted">{t('stream.noSupporters')}</p>
            ) : (
              <ol class="supporter-list" data-testid="supporters">
                {v.topSupporters.map((x, i) => (
                  <li key={x.user?.id ?? i}>
                    <span>@{x.user?.handle ?? '?'}</span>{' '}
                    <span class="muted">{t('stream.points', { points: x.points })}</span>
                  </li>
                ))}
              </ol>
            )}
          </section>
        </div>
        {!props.vod && (
          <aside class="side">
            {(isDegraded(v.meta, 'catalog') || props.stamps === null) && <Degraded section="catalog" />}
            {isDegraded(v.meta, 'wallet') && <Degraded section="wallet" />}
            <Island
              name="chat"
              component={Chat}
              props={{
                streamId: s.id,
                ended: s.state === 'ended',
                csrf: page.csrf,
                me: page.me && { id: page.me.id, handle: page.me.handle },
                stamps: props.stamps,
                balance: v.wallet?.balance ?? null,
              }}
            />
          </aside>
        )}
      </div>
    </Layout>
  );
}
