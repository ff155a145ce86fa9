import { hydrate } from 'preact';
import './app.css';
import { islands } from './islands/registry.ts';
import { I18n, type Messages } from './lib/i18n.ts';

// Only the islands hydrate; the rest of the page stays the server's HTML.
const messagesEl = document.getElementById('lh-messages');
const messages = JSON.parse(messagesEl?.textContent ?? '{}') as Messages;
for (const el of document.querySelectorAll<HTMLElement>('[data-island]')) {
  const Component = islands[el.dataset.island ?? ''];
  if (!Component) continue;
  const props = JSON.parse(el.dataset.props ?? '{}') as object;
  hydrate(
    <I18n.Provider value={messages}>
      <Component {...props} />
    </I18n.Provider>,
    el,
  );
  el.dataset.hydrated = 'true';
}
document.documentElement.dataset.hydrated = 'true';
