import { optionError } from '../protocol/protocol.js';

/** `receipts` of the hub's options as an object: each field has a default. */
export interface ReceiptOptions {
  /**
   * How long the sender's node waits for any device of a user to confirm a
   * message before it emits `'undelivered'` for that user.
   * @default 30000
   */
  undeliveredAfterMs?: number;
  /**
   * Receipts one user may have pending on the sending node; past it the
   * oldest of that user's resolve as `'undelivered'` at once. Also the most
   * unconfirmed messages one socket is remembered to have got (its oldest
   * are forgotten, and confirming them is then ignored).
   * @default 1000
   */
  maxPendingPerUser?: number;
  /**
   * Receipts pending on this node for every user together; past it the
   * oldest resolve as `'undelivered'` at once. Also the most unconfirmed
   * messages remembered for all the sockets of this node together.
   * @default 100000
   */
  maxPending?: number;
  /**
   * A v1 client (plain WebSocket, no `wshub` subprotocol) cannot confirm.
   * `false`: its messages count as not delivered. `true`: writing a message
   * to it counts as its confirmation (the hub cannot know it was read).
   * @default false
   */
  confirmV1OnWrite?: boolean;
}

/** `receipts` resolved. */
export interface ReceiptLimits {
  undeliveredAfterMs: number;
  maxPendingPerUser: number;
  maxPending: number;
  confirmV1OnWrite: boolean;
}

/** Defaults of `receipts: true`. */
export const DEFAULT_RECEIPTS: Readonly<ReceiptLimits> = Object.freeze({
  undeliveredAfterMs: 30_000,
  maxPendingPerUser: 1000,
  maxPending: 100_000,
  confirmV1OnWrite: false,
});

/** Longest `undeliveredAfterMs` a timer can hold (about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

function positive(name: keyof ReceiptLimits, value: unknown, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return DEFAULT_RECEIPTS[name] as number;
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0 || value > max) {
    throw optionError('', `receipts.${name}`, `a positive integer of at most ${max}`, value);
  }
  return value;
}

/** Validates `receipts`; `undefined` when receipts are off. */
export function resolveReceipts(value: unknown): ReceiptLimits | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true) return { ...DEFAULT_RECEIPTS };
  if (typeof value !== 'object' || value === null) {
    throw optionError('', 'receipts', 'true, false or { undeliveredAfterMs?, maxPendingPerUser?, maxPending?, confirmV1OnWrite? }', value);
  }
  const options = value as ReceiptOptions;
  const known = new Set(Object.keys(DEFAULT_RECEIPTS));
  for (const name of Object.keys(options)) {
    if (!known.has(name)) throw new TypeError(`wshub: unknown option "receipts.${name}"; the options are ${[...known].join(', ')}`);
  }
  const v1 = options.confirmV1OnWrite ?? false;
  if (typeof v1 !== 'boolean') throw optionError('', 'receipts.confirmV1OnWrite', 'a boolean', v1);
  return {
    undeliveredAfterMs: positive('undeliveredAfterMs', options.undeliveredAfterMs, MAX_TIMER_MS),
    maxPendingPerUser: positive('maxPendingPerUser', options.maxPendingPerUser),
    maxPending: positive('maxPending', options.maxPending),
    confirmV1OnWrite: v1,
  };
}
