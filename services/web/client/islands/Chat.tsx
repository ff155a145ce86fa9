import type { chat } from '@livehouse/contracts';
import { useEffect, useRef, useState } from 'preact/hooks';
import { post } from '../lib/api.ts';
import { useT } from '../lib/i18n.ts';
import type { StampItem } from '../lib/views.ts';

export interface ChatProps {
  streamId: string;
  ended: boolean;
  csrf: string;
  me: { id: string; handle: string } | null;
  /** The stamps offered in the picker (global and this channel's), or null when the catalog is degraded. */
  stamps: StampItem[] | null;
  /** The viewer's balance, or null when logged out or the wallet is degraded. */
  balance: number | null;
}

/** The web server adds the handles of the users a frame names (the chat protocol carries only ids). */
type Frame = chat.ServerFrame & { names?: Record<string, string> };
type Status = 'connecting' | 'connected' | 'reconnecting';

const MAX_ITEMS = 200;

/** Chat, stamp picker and balance: one island, because a paid stamp changes all three. */
export function Chat(props: ChatProps) {
  const t = useT();
  const [items, setItems] = useState<chat.Item[]>([]);
  const [names, setNames] = useState<Record<string, string>>(props.me ? { [props.me.id]: props.me.handle } : {});
  const [status, setStatus] = useState<Status>('connecting');
  const [text, setText] = useState('');
  const [notice, setNotice] = useState<{ kind: 'error' | 'ok'; text: string } | null>(null);
  const [balance, setBalance] = useState(props.balance);
  const [sending, setSending] = useState<string | null>(null);
  const socket = useRef<WebSocket | null>(null);
  const list = useRef<HTMLOListElement | null>(null);

  useEffect(() => {
    let lastId = 0;
    const seenTx = new Set<string>();
    let stopped = false;
    let attempt = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let ping: ReturnType<typeof setInterval> | undefined;
    const accept = (incoming: chat.Item[], reset: boolean) => {
      const fresh = incoming.filter((item) => {
        if (!reset && item.id <= lastId) return false;
        if (item.type === 'stamp') {
          if (seenTx.has(item.txId)) return false;
          seenTx.add(item.txId);
        }
        return true;
      });
      const last = incoming.at(-1);
      if (last && last.id > lastId) lastId = last.id;
      setItems((old) => (reset ? fresh : [...old, ...fresh]).slice(-MAX_ITEMS));
    };
    const connect = () => {
      const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
      const since = lastId > 0 ? `?since=${lastId}` : '';
      const ws = new WebSocket(`${scheme}://${location.host}/streams/${props.streamId}/chat${since}`);
      socket.current = ws;
      ws.onopen = () => {
        attempt = 0;
        // Browsers cannot send WebSocket pings; the protocol has its own.
        ping = setInterval(() => ws.readyState === WebSocket.OPEN && ws.send('{"type":"ping"}'), 20_000);
      };
      ws.onmessage = (event) => {
        const frame = JSON.parse(String(event.data)) as Frame;
        if (frame.names) setNames((old) => ({ ...old, ...frame.names }));
        if (frame.type === 'welcome') setStatus('connected');
        else if (frame.type === 'history') {
          if (!frame.resumed) seenTx.clear();
          accept(frame.items, !frame.resumed);
        } else if (frame.type === 'items') accept(frame.items, false);
        else if (frame.type === 'error') {
          const message =
            frame.code === 'rate_limited'
              ? t('chat.rateLimited', { seconds: Math.ceil((frame.retryAfterMs ?? 1000) / 1000) })
              : t('chat.error', { message: frame.message });
          setNotice({ kind: 'error', text: message });
        }
      };
      ws.onclose = (event) => {
        clearInterval(ping);
        socket.current = null;
        if (stopped || event.code === 4003 || event.code === 1008) return;
        setStatus('reconnecting');
        attempt += 1;
        const delay = Math.min(10_000, 500 * 2 ** Math.min(attempt, 5));
        timer = setTimeout(async () => {
          // 4401: our access token had expired; this call refreshes the session cookies first.
          if (event.code === 4401) await fetch('/api/session', { credentials: 'same-origin' }).catch(() => {});
          if (!stopped) connect();
        }, delay);
      };
    };
    connect();
    return () => {
      stopped = true;
      clearTimeout(timer);
      clearInterval(ping);
      socket.current?.close(1000);
    };
  }, [props.streamId]);

  useEffect(() => {
    const el = list.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [items]);

  const stampById = new Map((props.stamps ?? []).map((s) => [s.id, s]));
  const who = (id: string) => `@${names[id] ?? `viewer-${id.slice(0, 4)}`}`;

  const send = (e: Event) => {
    e.preventDefault();
    const value = text.trim();
    if (!value || !socket.current || socket.current.readyState !== WebSocket.OPEN) return;
    socket.current.send(JSON.stringify({ type: 'send', text: value, ref: crypto.randomUUID().slice(0, 32) }));
    setText('');
    setNotice(null);
  };

  const sendStamp = async (stamp: StampItem) => {
    if (balance !== null && stamp.price > balance) {
      setNotice({ kind: 'error', text: t('stamps.short', { stamp: stamp.name, price: stamp.price, balance }) });
      return;
    }
    setSending(stamp.id);
    setNotice(null);
    const res = await post<{ balance: number | null }>(
      `/api/streams/${props.streamId}/stamps`,
      props.csrf,
      { stampId: stamp.id },
      { 'idempotency-key': crypto.randomUUID() },
    ).catch(() => null);
    setSending(null);
    if (res?.ok) {
      if (typeof res.body.balance === 'number') setBalance(res.body.balance);
      setNotice({ kind: 'ok', text: t('stamps.sent', { stamp: stamp.name }) });
    } else if (res?.body.error?.code === 'insufficient_points') {
      setNotice({
        kind: 'error',
        text: t('stamps.short', { stamp: stamp.name, price: stamp.price, balance: balance ?? 0 }),
      });
    } else {
      setNotice({ kind: 'error', text: t('stamps.failed', { message: res?.body.error?.message ?? '…' }) });
    }
  };

  const statusText =
    status === 'connected'
      ? t('chat.connected')
      : status === 'connecting'
        ? t('chat.connecting')
        : t('chat.reconnecting');

  return (
    <section class="chat" aria-labelledby="chat-title" data-chat-status={status}>
      <header class="chat-head">
        <h2 id="chat-title">{t('chat.title')}</h2>
        <span class={`status ${status}`} role="status" data-testid="chat-status">
          {statusText}
        </span>
      </header>
      <ol class="chat-items" ref={list} aria-live="polite" data-testid="chat-items">
        {items.length === 0 && <li class="muted">{t('chat.empty')}</li>}
        {items.map((item) =>
          item.type === 'message' ? (
            <li key={item.id} class="msg" data-item-id={item.id}>
              <span class="who">{who(item.userId)}</span> <span class="text">{item.text}</span>
            </li>
          ) : item.type === 'stamp' ? (
            <li key={item.id} class="stamp-item" data-item-id={item.id} data-stamp-id={item.stampId}>
              <span class="who">{who(item.senderId)}</span>{' '}
              {t('chat.stamped', { stamp: stampById.get(item.stampId)?.name ?? 'stamp', price: item.price })}
            </li>
          ) : null,
        )}
      </ol>
      {props.ended ? (
        <p class="muted">{t('chat.ended')}</p>
      ) : props.me ? (
        <form class="chat-form" onSubmit={send}>
          <label class="sr-only" for="chat-input">
            {t('chat.placeholder')}
          </label>
          <input
            id="chat-input"
            name="text"
            maxLength={500}
            autocomplete="off"
            placeholder={t('chat.placeholder')}
            value={text}
            onInput={(e) => setText((e.target as HTMLInputElement).value)}
            data-testid="chat-input"
          />
          <button type="submit" class="button" disabled={status !== 'connected'} data-testid="chat-send">
            {t('chat.send')}
          </button>
        </form>
      ) : (
        <p class="muted">
          <a href="/login">{t('chat.loginToPost')}</a>
        </p>
      )}
      <section class="stamps" aria-labelledby="stamps-title">
        <div class="stamps-head">
          <h3 id="stamps-title">{t('stamps.title')}</h3>
          {balance !== null && (
            <span class="balance" data-testid="balance" data-balance={balance}>
              {t('stamps.balance', { balance })}
            </span>
          )}
        </div>
        {props.stamps === null ? (
          <p class="muted">{t('stamps.unavailable')}</p>
        ) : !props.me ? (
          <p class="muted">{t('stamps.loginFirst')}</p>
        ) : (
          <ul class="stamp-grid">
            {props.stamps.map((s) => (
              <li key={s.id}>
                <button
                  type="button"
                  class="stamp"
                  onClick={() => sendStamp(s)}
                  disabled={sending !== null || props.ended}
                  data-stamp={s.id}
                  data-price={s.price}
                  aria-label={`${s.name}, ${s.price === 0 ? t('stamps.free') : t('stamps.price', { price: s.price })}`}
                >
                  <span class="stamp-name">{s.name}</span>
                  <span class="stamp-price">
                    {s.price === 0 ? t('stamps.free') : t('stamps.price', { price: s.price })}
                  </span>
                </button>
              </li>
            ))}
          </ul>
        )}
        {notice && (
          <p
            class={notice.kind === 'error' ? 'error' : 'ok'}
            role={notice.kind === 'error' ? 'alert' : 'status'}
            data-testid="stamp-notice"
          >
            {notice.text}
          </p>
        )}
      </section>
    </section>
  );
}
