import { randomBytes } from 'node:crypto';

/**
 * How a message with an id is kept in the history: its frame text with one
 * more top-level member, `"wshub:r":[id, origin]`, last (a broker's
 * envelope carries `id` and `origin` beside the text instead; a node also
 * reads this tag from an envelope without them). A message that carries
 * only the sender's id (`options.id` with receipts off) is kept as
 * `"wshub:r":[id]`. `JSON.stringify({ event, data })` gives the frame only
 * `event` and `data`, so a third top-level member is ours; a look-alike
 * inside `data` is never the last member of the frame.
 */
const MARK = ',"wshub:r":';

/**
 * The message's id and who must hear that a device got it: the node that
 * owns its receipt; no `origin` for an id without a receipt (the sender's
 * `options.id` with receipts off, which v2 clients use to drop a repeat).
 */
export interface ReceiptTag {
  readonly id: string;
  readonly origin?: string;
}

/** A receipt where it meets its message: the id, the node that owns the receipt, and the message's event, which a confirmation reports. */
export interface MessageReceipt {
  readonly id: string;
  readonly origin: string;
  readonly event: string;
}

/** The text the history keeps: the frame with its tag. */
export function tagText(text: string, tag: ReceiptTag): string {
  const pair = tag.origin === undefined ? [tag.id] : [tag.id, tag.origin];
  return `${text.slice(0, -1)}${MARK}${JSON.stringify(pair)}}`;
}

/** The tag of a kept text and the frame without it; `undefined` when it carries none. */
export function untagText(text: string): { text: string; tag: ReceiptTag } | undefined {
  if (!text.endsWith('"]}')) return undefined;
  const at = text.lastIndexOf(MARK);
  if (at < 0) return undefined;
  let pair: unknown;
  try {
    pair = JSON.parse(text.slice(at + MARK.length, -1));
  } catch {
    return undefined;
  }
  if (!Array.isArray(pair) || typeof pair[0] !== 'string') return undefined;
  const plain = `${text.slice(0, at)}}`;
  if (pair.length === 1) return { text: plain, tag: { id: pair[0] } };
  if (pair.length !== 2 || typeof pair[1] !== 'string') return undefined;
  return { text: plain, tag: { id: pair[0], origin: pair[1] } };
}

/**
 * Makes the ids of messages sent without `options.id`: a random prefix per
 * hub and a counter, so ids are unique in the cluster and cheap to make.
 */
export function messageIds(): () => string {
  const prefix = randomBytes(9).toString('base64url');
  let seq = 0;
  // Joined, not concatenated: one flat string. A concatenation stays a tree
  // of its parts until something reads it whole, about 50 B more for each
  // pending receipt on a node that never serializes the id.
  return () => [prefix, (++seq).toString(36)].join('.');
}
