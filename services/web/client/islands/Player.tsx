import { useEffect, useRef, useState } from 'preact/hooks';
import { get } from '../lib/api.ts';
import { useT } from '../lib/i18n.ts';

export interface PlayerProps {
  streamId: string;
  state: string;
  /** HLS playlist; null while the stream is offline or the video plane gave none. */
  src: string | null;
  /** Archive (VOD) playback: no polling for go-live, no live-edge tuning. */
  vod: boolean;
}

interface Playback {
  state: string;
  src: string | null;
}

/** Polls for go-live while offline, then plays HLS: hls.js (loaded on demand) first, native HLS otherwise. */
export function Player(props: PlayerProps) {
  const t = useT();
  const [playback, setPlayback] = useState<Playback>({ state: props.state, src: props.src });
  const [failed, setFailed] = useState(false);
  const video = useRef<HTMLVideoElement | null>(null);
  const playable = playback.src !== null && (props.vod || playback.state === 'live');

  useEffect(() => {
    if (playable || props.vod || playback.state === 'ended') return;
    const timer = setInterval(async () => {
      const next = await get<Playback>(`/api/streams/${props.streamId}/playback`).catch(() => null);
      if (next && (next.state !== playback.state || next.src !== playback.src)) setPlayback(next);
    }, 3000);
    return () => clearInterval(timer);
  }, [playable, playback.state, playback.src]);

  useEffect(() => {
    const el = video.current;
    const src = playback.src;
    if (!playable || !el || src === null) return;
    let destroy = () => {};
    let cancelled = false;
    (async () => {
      const { default: Hls } = await import('hls.js/light');
      if (cancelled) return;
      // Hls.isSupported() first: Chromium answers "maybe" to canPlayType for HLS and then plays nothing.
      if (Hls.isSupported()) {
        // Live: near the edge, and back to it after a stall — a little faster playback first (up to 1.5×), a
        // jump when more than four segments behind.
        const hls = new Hls({
          enableWorker: false,
          lowLatencyMode: !props.vod,
          liveSyncDurationCount: 2,
          liveMaxLatencyDurationCount: 4,
          maxLiveSyncPlaybackRate: 1.5,
        });
        hls.on(Hls.Events.ERROR, (_event, data) => {
          if (!data.fatal) return;
          setFailed(true);
          if (data.type === Hls.ErrorTypes.NETWORK_ERROR) setTimeout(() => hls.loadSource(src), 2000);
          else hls.recoverMediaError();
        });
        hls.on(Hls.Events.FRAG_BUFFERED, () => setFailed(false));
        hls.loadSource(src);
        hls.attachMedia(el);
        // Tests and the latency check read hls.js's own figures from the element.
        (el as HTMLVideoElement & { lhHls?: unknown }).lhHls = hls;
        destroy = () => hls.destroy();
      } else if (el.canPlayType('application/vnd.apple.mpegurl')) {
        el.src = src;
      }
      el.play().catch(() => {});
    })();
    return () => {
      cancelled = true;
      destroy();
    };
  }, [playable, playback.src]);

  if (!playable) {
    const ended = playback.state === 'ended';
    return (
      <div class="offline" role="status" data-testid="offline-card" data-state={playback.state}>
        <strong>{t(ended ? (props.vod ? 'archive.noVideo' : 'stream.endedTitle') : 'stream.offlineTitle')}</strong>
        {!props.vod && <p>{t(ended ? 'stream.endedBody' : 'stream.offlineBody')}</p>}
      </div>
    );
  }
  return (
    <div class="player">
      <video ref={video} controls muted autoplay playsInline aria-label={t('stream.playerLabel')} data-testid="video" />
      {failed && (
        <p class="player-error" role="status">
          {t('stream.noVideoBody')}
        </p>
      )}
    </div>
  );
}
