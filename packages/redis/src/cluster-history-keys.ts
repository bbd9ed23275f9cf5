import { keySlot, SLOTS } from './key-slot.js';

/** The keys of one history on Redis Cluster, all in the slot of its channel. */
export interface ClusterHistoryKeys {
  /** The channel its messages are published on. */
  readonly channel: string;
  readonly slot: number;
  readonly stream: string;
  readonly seq: string;
  /** The run id of the Redis process that last wrote it. */
  readonly own: string;
  /** Reads from before this offset fail. */
  readonly lost: string;
  /** The senders' ids of its recent messages (id → time), to drop a repeat. */
  readonly ids: string;
}

/** Slot → a short hash tag of that slot, filled once when first needed. */
let slotTags: string[] | undefined;

function slotTag(slot: number): string {
  if (!slotTags) {
    const tags: string[] = new Array(SLOTS);
    let left = SLOTS;
    for (let n = 0; left > 0; n++) {
      const tag = n.toString(36);
      const s = keySlot(tag);
      if (tags[s] === undefined) {
        tags[s] = tag;
        left--;
      }
    }
    slotTags = tags;
  }
  return slotTags[slot]!;
}

/**
 * The keys of the history whose messages go on `channel`:
 * `{<channel>}:h`, `{<channel>}:h:seq`, … — hash-tagged with the channel's
 * name, so they live in its slot and one script can record and publish. A
 * channel with braces in its name (a user id with `{` or `}`) gets a tag that
 * hashes to the same slot, followed by the channel's name.
 */
export function clusterHistoryKeys(channel: string): ClusterHistoryKeys {
  const slot = keySlot(channel);
  const base = /[{}]/.test(channel) ? `{${slotTag(slot)}}${channel}:h` : `{${channel}}:h`;
  return { channel, slot, stream: base, seq: `${base}:seq`, own: `${base}:own`, lost: `${base}:lost`, ids: `${base}:ids` };
}
