import { useT } from '../lib/i18n.ts';
import { usePage } from '../lib/page.ts';
import type { WalletPage } from '../lib/views.ts';
import { Degraded, isDegraded, Layout } from './Layout.tsx';

export function Wallet(props: { view: WalletPage }) {
  const t = useT();
  const page = usePage();
  const v = props.view;
  const money = (amount: number, currency: string) =>
    new Intl.NumberFormat(page.locale === 'ja' ? 'ja-JP' : 'en-GB', {
      style: 'currency',
      currency: currency.toUpperCase(),
    }).format(
      // Stripe's smallest unit: yen has none, most others have cents.
      ['jpy', 'krw'].includes(currency) ? amount : amount / 100,
    );
  const when = (iso: string) => new Date(iso).toLocaleString(page.locale === 'ja' ? 'ja-JP' : 'en-GB');
  return (
    <Layout>
      <h1>{t('wallet.title')}</h1>
      {isDegraded(v.meta, 'wallet') || v.balance === null ? (
        <Degraded section="wallet" />
      ) : (
        <p class="big-balance" data-testid="wallet-balance" data-balance={v.balance}>
          {t('wallet.balance', { balance: v.balance })}
        </p>
      )}
      {v.checkout && (
        <p
          class={v.checkout.status === 'paid' ? 'ok' : 'muted'}
          role="status"
          data-testid="checkout-status"
          data-status={v.checkout.status}
        >
          {t(`wallet.checkout.${v.checkout.status}`, { points: v.checkout.points })}
        </p>
      )}
      {isDegraded(v.meta, 'checkout') && <Degraded section="checkout" />}
      <section aria-labelledby="buy">
        <h2 id="buy">{t('wallet.buy')}</h2>
        {isDegraded(v.meta, 'packs') || v.packs === null ? (
          <Degraded section="packs" />
        ) : (
          <ul class="packs" data-testid="packs">
            {v.packs.map((pack) => (
              <li key={pack.id}>
                <form method="post" action="/wallet/checkout">
                  <input type="hidden" name="_csrf" value={page.csrf} />
                  <input type="hidden" name="packId" value={pack.id} />
                  <input type="hidden" name="idempotencyKey" value={`${v.idempotencyKey}-${pack.id}`} />
                  <button type="submit" class="button" data-testid="buy" data-pack={pack.id}>
                    {t('wallet.buyPack', { points: pack.points, price: money(pack.price, pack.currency) })}
                  </button>
                </form>
              </li>
            ))}
          </ul>
        )}
        <p class="muted">{t('wallet.buyNote')}</p>
      </section>
      <section aria-labelledby="history">
        <h2 id="history">{t('wallet.history')}</h2>
        {isDegraded(v.meta, 'history') || v.history === null ? (
          <Degraded section="history" />
        ) : v.history.items.length === 0 ? (
          <p class="muted">{t('wallet.noHistory')}</p>
        ) : (
          <table class="history" data-testid="history">
            <tbody>
              {v.history.items.map((h) => (
                <tr key={h.transferId}>
                  <td>{t(`wallet.kind.${h.kind}`)}</td>
                  <td class={h.amount < 0 ? 'neg num' : 'pos num'}>{h.amount > 0 ? `+${h.amount}` : h.amount}</td>
                  <td>{h.reason ?? ''}</td>
                  <td class="muted">{when(h.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </Layout>
  );
}
