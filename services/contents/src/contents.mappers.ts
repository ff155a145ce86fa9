import type { contents } from '@livehouse/contracts';
import type { ChannelResult, StreamResult } from './contents.repository.ts';
import type { CategoryRow } from './db.ts';

/** API shapes from rows: the only place that knows both. */

export const toCategory = (row: Pick<CategoryRow, 'id' | 'slug' | 'name'>): contents.Category => ({
  id: row.id,
  slug: row.slug,
  name: row.name,
});

/** A joined category (left join) or null. */
function joinedCategory(r: { category_id: string | null; category_slug: string | null; category_name: string | null }) {
  return r.category_id && r.category_slug !== null && r.category_name !== null
    ? { id: r.category_id, slug: r.category_slug, name: r.category_name }
    : null;
}

export function toChannel(r: ChannelResult): contents.Channel {
  return {
    id: r.id,
    ownerId: r.owner_id,
    title: r.title,
    description: r.description,
    category: joinedCategory(r),
    imageUrl: r.image_url,
    featured: r.featured,
    liveStreamId: r.live_stream_id,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
  };
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function toStream(r: StreamResult): contents.Stream {
  return {
    id: r.id,
    channelId: r.channel_id,
    ownerId: r.owner_id,
    channel: { title: r.channel_title, imageUrl: r.channel_image_url },
    title: r.title,
    category: joinedCategory(r),
    state: r.state,
    scheduledAt: iso(r.scheduled_at),
    startedAt: iso(r.started_at),
    endedAt: iso(r.ended_at),
    durationSeconds: r.duration_seconds,
    viewerCount: r.viewer_count,
    peakViewerCount: r.peak_viewer_count,
    archive:
      r.archive_seconds !== null && r.archive_registered_at
        ? { durationSeconds: r.archive_seconds, registeredAt: r.archive_registered_at.toISOString() }
        : null,
    createdAt: r.created_at.toISOString(),
  };
}
