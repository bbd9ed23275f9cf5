import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ReceiptEnvelope } from '../src/brokers/broker.js';
import { newCounters } from '../src/hub/hub-counters.js';
import { type MessageUndelivered, Receipts } from '../src/hub/receipts.js';

/**
 * The sender's pending receipts, on their own: a queue in deadline order
 * whose settled entries are only marked done. What it must never do: hold
 * settled receipts for their whole delay (at tens of thousands of messages
 * a second and 30 s, millions of them), fire `'undelivered'` twice or out of
 * order, or let the limits evict anything but the oldest still pending.
 */
function receipts(limits: Partial<{ undeliveredAfterMs: number; maxPendingPerUser: number; maxPending: number }> = {}) {
  const undelivered: MessageUndelivered[] = [];
  const counters = newCounters();
  const r = new Receipts(
    { undeliveredAfterMs: 30_000, maxPendingPerUser: 1000, maxPending: 100_000, confirmV1OnWrite: false, ...limits },
    {
      nodeId: 'sender',
      counters,
      listensDelivered: false,
      delivered: () => {},
      undelivered: (event) => undelivered.push(event),
      send: () => {},
    },
  );
  /** A confirmation from another node's socket of `userId`. */
  const confirm = (userId: string, ...ids: string[]) => {
    const envelope: ReceiptEnvelope = { kind: 'receipt', origin: 'sender', items: [[userId, 'phone', 's1', Date.now(), ...ids.flatMap((id) => [id, 'n'])]] };
    r.confirmed(envelope);
  };
  /** Entries the queue holds, pending or done (white box: this is the bound under test). */
  const held = () => {
    const q = r as unknown as { queue: unknown[]; head: number };
    return q.queue.length - q.head;
  };
  return { r, confirm, held, undelivered, counters };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('pending receipts', () => {
  it('confirmed ones leave the queue long before their delay: 100,000 sends, each confirmed soon after, hold at most about twice what is pending', () => {
    const { r, confirm, held, counters } = receipts();
    let most = 0;
    for (let i = 0; i < 100_000; i++) {
      r.track(`m${i}`, `u${i % 100}`, 'n', i, null);
      // The devices confirm 20 messages behind the sender.
      if (i >= 20) confirm(`u${(i - 20) % 100}`, `m${i - 20}`);
      most = Math.max(most, held());
    }
    expect(r.pendingCount).toBe(20);
    expect(counters.receiptsDelivered).toBe(100_000 - 20);
    expect(most).toBeLessThanOrEqual(2 * 20 + 64 + 1);
  });

  it("nothing confirmed: each goes 'undelivered' once, in the order sent, and the queue empties", () => {
    vi.useFakeTimers();
    const { r, confirm, held, undelivered } = receipts({ undeliveredAfterMs: 1000 });
    for (let i = 0; i < 10_000; i++) {
      r.track(`m${i}`, `u${i % 7}`, 'n', i, null);
      if (i % 3 === 0) confirm(`u${i % 7}`, `m${i}`);
      if (i % 1000 === 999) vi.advanceTimersByTime(100);
    }
    vi.advanceTimersByTime(2000);
    const expected = Array.from({ length: 10_000 }, (_, i) => i).filter((i) => i % 3 !== 0);
    expect(undelivered.map((u) => u.data)).toEqual(expected);
    expect(r.pendingCount).toBe(0);
    expect(held()).toBe(0);
    // A confirmation after the deadline settles nothing more.
    confirm('u1', 'm1');
    expect(undelivered).toHaveLength(expected.length);
  });

  it('past maxPending the oldest still pending goes, not one confirmed before it', () => {
    const { r, confirm, undelivered } = receipts({ maxPending: 3 });
    r.track('a', 'u1', 'n', 'a', null);
    r.track('b', 'u2', 'n', 'b', null);
    confirm('u1', 'a');
    r.track('c', 'u3', 'n', 'c', null);
    r.track('d', 'u1', 'n', 'd', null);
    expect(undelivered).toEqual([]);
    r.track('e', 'u2', 'n', 'e', null);
    expect(undelivered.map((u) => u.data)).toEqual(['b']);
    expect(r.pendingCount).toBe(3);
  });

  it('the same id again for the same user is one receipt, with the newer deadline', () => {
    vi.useFakeTimers();
    const { r, undelivered } = receipts({ undeliveredAfterMs: 1000 });
    r.track('x', 'u1', 'n', 1, null);
    vi.advanceTimersByTime(600);
    r.track('x', 'u1', 'n', 2, null);
    expect(r.pendingCount).toBe(1);
    vi.advanceTimersByTime(600);
    expect(undelivered).toEqual([]);
    vi.advanceTimersByTime(500);
    expect(undelivered.map((u) => u.data)).toEqual([2]);
  });
});
