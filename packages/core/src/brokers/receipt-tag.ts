import { randomBytes } from 'node:crypto';

/**
 * How a message that wants a receipt travels between nodes and in the
 * history: its frame text with one more top-level member,
 * `"wshub:r":[id, origin]`, last. `JSON.stringify({ event, data })` gives
 * the frame only `event` and `data`, so a third top-level member is ours;
 * a look-alike inside `data` is never the last member of the frame.
 */
const MARK = ',"wshub:r":';

/** Who must hear that a device got the message: the message's id and the node that owns its receipt. */
export interface ReceiptTag {
  readonly id: string;
  readonly origin: string;
}

/** A tag where it meets its message: with the message's event, which a confirmation reports. */
export interface MessageReceipt extends ReceiptTag {
  readonly event: string;
}

/** The text that travels: the frame with its tag. */
export function tagText(text: string, tag: ReceiptTag): string {
  return `${text.slice(0, -1)}${MARK}${JSON.stringify([tag.id, tag.origin])}}`;
}

/** The tag of a travelled text and the frame without it; `undefined` when it carries none. */
export function untagText(text: string): { text: string; tag: ReceiptTag } | undefined {
  if (!text.endsWith(']}')) return undefined;
  const at = text.lastIndexOf(MARK);
  if (at < 0) return undefined;
  let pair: unknown;
  try {
    pair = JSON.parse(text.slice(at + MARK.length, -1));
  } catch {
    return undefined;
  }
  if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string' || typeof pair[1] !== 'string') return undefined;
  return { text: `${text.slice(0, at)}}`, tag: { id: pair[0], origin: pair[1] } };
}

/**
 * Makes the ids of messages sent without `options.id`: a random prefix per
 * hub and a counter, so ids are unique in the cluster and cheap to make.
 */
export function messageIds(): () => string {
  const prefix = randomBytes(9).toString('base64url');
  let seq = 0;
  return () => `${prefix}.${(++seq).toString(36)}`;
}
