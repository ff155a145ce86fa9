import type { chat, user } from '@livehouse/contracts';
import type { BffClient } from './bff.ts';

const MAX = 10_000;
const TTL_MS = 10 * 60_000;

/**
 * Handles of the users chat frames name (the protocol carries ids only), looked up in batches
 * through the BFF and kept for a while: a room's regulars cost one lookup, not one per message.
 */
export class Names {
  readonly #bff: BffClient;
  readonly #cache = new Map<string, { handle: string; at: number }>();

  constructor(bff: BffClient) {
    this.#bff = bff;
  }

  async of(ids: Iterable<string>): Promise<Record<string, string>> {
    const now = Date.now();
    const out: Record<string, string> = {};
    const missing: string[] = [];
    for (const id of new Set(ids)) {
      const hit = this.#cache.get(id);
      if (hit && now - hit.at < TTL_MS) out[id] = hit.handle;
      else missing.push(id);
    }
    for (let i = 0; i < missing.length; i += 100) {
      const batch = missing.slice(i, i + 100);
      const answer = await this.#bff
        .call<user.ProfileList>('GET', `/web/v1/users?ids=${batch.join(',')}`)
        .catch(() => null);
      if (answer?.status !== 200) continue;
      for (const p of answer.body.items) {
        out[p.id] = p.handle;
        if (this.#cache.size >= MAX) this.#cache.delete(this.#cache.keys().next().value as string);
        this.#cache.set(p.id, { handle: p.handle, at: now });
      }
    }
    return out;
  }

  /** The frame with a `names` map added when it carries items; other frames pass unchanged. */
  async annotate(raw: string): Promise<string> {
    let frame: chat.ServerFrame;
    try {
      frame = JSON.parse(raw) as chat.ServerFrame;
    } catch {
      return raw;
    }
    if (frame.type !== 'history' && frame.type !== 'items') return raw;
    const ids = frame.items.flatMap((i) =>
      i.type === 'message' ? [i.userId] : i.type === 'stamp' ? [i.senderId] : [],
    );
    if (ids.length === 0) return raw;
    return JSON.stringify({ ...frame, names: await this.of(ids) });
  }
}
