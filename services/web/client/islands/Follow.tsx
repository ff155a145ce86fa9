import { useState } from 'preact/hooks';
import { post } from '../lib/api.ts';
import { useT } from '../lib/i18n.ts';

export interface FollowProps {
  userId: string;
  following: boolean;
  csrf: string;
  loggedIn: boolean;
  back: string;
}

/** A form that works without JavaScript; hydrated, it toggles in place. */
export function Follow(props: FollowProps) {
  const t = useT();
  const [following, setFollowing] = useState(props.following);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(false);
  if (!props.loggedIn) {
    return (
      <a class="button" href={`/login?next=${encodeURIComponent(props.back)}`}>
        {t('follow.loginFirst')}
      </a>
    );
  }
  const onSubmit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(false);
    const res = await post<{ following: boolean }>(`/follow/${props.userId}`, props.csrf, {
      follow: !following,
    }).catch(() => null);
    setBusy(false);
    if (res?.ok) setFollowing(res.body.following);
    else setError(true);
  };
  return (
    <form method="post" action={`/follow/${props.userId}`} class="inline" onSubmit={onSubmit}>
      <input type="hidden" name="_csrf" value={props.csrf} />
      <input type="hidden" name="follow" value={following ? 'false' : 'true'} />
      <input type="hidden" name="back" value={props.back} />
      <button
        type="submit"
        class={following ? 'button secondary' : 'button'}
        aria-pressed={following}
        disabled={busy}
        data-testid="follow"
      >
        {following ? t('follow.unfollow') : t('follow.follow')}
      </button>
      {error && (
        <span class="error" role="alert">
          {t('follow.failed')}
        </span>
      )}
    </form>
  );
}
