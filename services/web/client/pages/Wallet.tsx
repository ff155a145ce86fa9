import { useT } from '../lib/i18n.ts';
import { usePage } from '../lib/page.ts';
import type { WalletPage } from '../lib/views.ts';
import { Degraded, isDegraded, Layout } from './Layout.tsx';

export function Wallet(props: { view: WalletPage; checkout: boolean }) {
  const t = useT();
  const page = usePage();
  const v = props.view;
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
      <p class="muted">{t('wallet.buyLater')}</p>
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
