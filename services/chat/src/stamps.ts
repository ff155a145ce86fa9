import type { EventEnvelope } from '@livehouse/contracts';
import type { Kysely } from 'kysely';
import * as repo from './chat.repository.ts';
import type { ChatDatabase } from './db.ts';
import type { Rooms } from './rooms.ts';
import type { RoomWriter } from './writer.ts';

export type StampOutcome = 'delivered' | 'duplicate' | 'banned';

/**
 * A stamp the ledger committed (the `stamp.sent` event): into its room once, however often the
 * event is delivered (a dedupe key per sent stamp); its `txId` lets clients drop it if they see it
 * twice anyway. A user banned from the room puts no stamp into it.
 */
export async function deliverStamp(
  rooms: Rooms,
  writer: RoomWriter,
  event: EventEnvelope<'stamp.sent'>,
  /** The consumer's transaction: in embedded mode a second connection would wait for it forever. */
  db: Kysely<ChatDatabase>,
): Promise<StampOutcome> {
  const d = event.data;
  // The ledger has already moved the points; stamp owns that. The room just does not show it.
  if (rooms.opened(d.streamId)?.bans.has(d.senderId) || (await repo.isBanned(db, d.streamId, d.senderId))) {
    return 'banned';
  }
  const { result } = await writer.appendSystem(
    d.streamId,
    'stamp',
    {
      txId: d.transferId ?? d.sentStampId,
      sentStampId: d.sentStampId,
      stampId: d.stampId,
      senderId: d.senderId,
      price: d.price,
    },
    { dedupeKey: `stamp:${d.sentStampId}`, db },
  );
  return result.ok ? 'delivered' : 'duplicate';
}
