import { type Static, Type } from 'typebox';

/** timeline's own section of its config file (`timeline:`); every key has a default. */
export const TimelineConfig = Type.Object(
  {
    /**
     * An owner with at least this many followers is a big channel: its posts are not copied to each
     * follower (fan-out on write) but merged into followers' timelines when they read (fan-out on read).
     */
    fanoutThreshold: Type.Integer({ minimum: 1, default: 1000 }),
    /** On a new follow, this many of the owner's recent posts are copied into the follower's timeline. */
    backfillOnFollow: Type.Integer({ minimum: 0, maximum: 100, default: 20 }),
  },
  { default: {}, additionalProperties: false },
);
export type TimelineConfig = Static<typeof TimelineConfig>;
