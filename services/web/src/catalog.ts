import type { StampItem } from '../client/lib/views.ts';
import type { BffClient } from './bff.ts';

/** The catalog has hundreds of stamps: the picker offers a few at every price, cheapest first. */
const PER_PRICE = 3;
/** A version the BFF's catalog route does not serve yet (its view caches the version a few seconds) is asked again at most this often. */
const RECHECK_MS = 1000;
const MAX_PICKERS = 10_000;

interface Held {
  version: string;
  items: StampItem[];
  /** Pickers by channel id (global stamps and that channel's), computed once per catalog version. */
  pickers: Map<string, StampItem[]>;
}

/** The stamps a channel's picker offers: global and the channel's own, a few at every price. */
export function pickerStamps(items: StampItem[], channelId: string): StampItem[] {
  const byPrice = new Map<number, StampItem[]>();
  for (const s of items) {
    if (s.channelId !== null && s.channelId !== channelId) continue;
    const tier = byPrice.get(s.price) ?? [];
    if (tier.length < PER_PRICE) byPrice.set(s.price, [...tier, s]);
  }
  return [...byPrice.keys()].sort((a, b) => a - b).flatMap((price) => byPrice.get(price) ?? []);
}

/**
 * The stamp catalog, held by the web server: the stream view carries only its version, and the catalog
 * itself is fetched from the BFF when that version changes (revalidated with If-None-Match, one call
 * at a time however many pages ask).
 */
export class StampCatalog {
  readonly #bff: BffClient;
  #held: Held | null = null;
  #loading: Promise<void> | null = null;
  #checkedAt = 0;

  constructor(bff: BffClient) {
    this.#bff = bff;
  }

  /** The picker for a channel under this catalog version; null when the view had no version or the catalog failed. */
  async picker(version: string | null, channelId: string): Promise<StampItem[] | null> {
    if (version === null) return null;
    if (this.#held?.version !== version && Date.now() - this.#checkedAt >= RECHECK_MS) {
      this.#loading ??= this.#load().finally(() => {
        this.#loading = null;
      });
      await this.#loading;
    }
    const held = this.#held;
    if (!held) return null;
    let picker = held.pickers.get(channelId);
    if (!picker) {
      picker = pickerStamps(held.items, channelId);
      if (held.pickers.size >= MAX_PICKERS) held.pickers.clear();
      held.pickers.set(channelId, picker);
    }
    return picker;
  }

  async #load() {
    const held = this.#held;
    const answer = await this.#bff
      .call<{ version: string; items: StampItem[] }>('GET', '/web/v1/stamps/catalog', {
        headers: held ? { 'if-none-match': `"${held.version}"` } : {},
      })
      .catch(() => null);
    this.#checkedAt = Date.now();
    if (answer?.status === 200)
      this.#held = { version: answer.body.version, items: answer.body.items, pickers: new Map() };
  }
}
