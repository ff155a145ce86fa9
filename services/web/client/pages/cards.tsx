import { useT } from '../lib/i18n.ts';
import type { WebStream } from '../lib/views.ts';

export function StreamCard(props: { stream: WebStream }) {
  const t = useT();
  const s = props.stream;
  const live = s.state === 'live';
  return (
    <li class="card">
      <a href={live ? `/streams/${s.id}` : `/archives/${s.id}`} class="card-link">
        <div class="thumb">
          {s.thumbnailUrl ? <img src={s.thumbnailUrl} alt="" loading="lazy" width={320} height={180} /> : null}
          {live && <span class="badge live">{t('stream.live')}</span>}
          {live && <span class="badge viewers">{t('stream.viewers', { count: s.viewerCount })}</span>}
        </div>
        <span class="card-title">{s.title}</span>
      </a>
      <span class="card-sub">
        {s.streamer ? <a href={`/users/${s.streamer.id}`}>@{s.streamer.handle}</a> : null}
        {s.category ? ` · ${s.category.name}` : ''}
      </span>
    </li>
  );
}

export function StreamGrid(props: { streams: WebStream[]; empty: string; testid: string }) {
  if (props.streams.length === 0) return <p class="muted">{props.empty}</p>;
  return (
    <ul class="grid" data-testid={props.testid}>
      {props.streams.map((s) => (
        <StreamCard key={s.id} stream={s} />
      ))}
    </ul>
  );
}
