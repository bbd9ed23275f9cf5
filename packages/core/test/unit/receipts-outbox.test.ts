import { describe, expect, it } from 'vitest';
import type { ReceiptEnvelope } from '../../src/brokers/broker.js';
import { DEFAULT_RECEIPTS } from '../../src/config/receipts.js';
import { newCounters } from '../../src/hub/hub-counters.js';
import { Receipts, withReceipt } from '../../src/hub/receipts.js';
import type { SocketSession } from '../../src/session/socket-session.js';

/** Lets the turn end (the outbox is sent on `setImmediate`). */
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

/** The delivering node's side of receipts, with what it sends to other nodes collected. */
function deliveringNode(limits = DEFAULT_RECEIPTS) {
  const sent: ReceiptEnvelope[] = [];
  const receipts = new Receipts(limits, {
    nodeId: 'here',
    counters: newCounters(),
    listensDelivered: false,
    delivered: () => {},
    undelivered: () => {},
    send: (envelope) => sent.push(envelope),
  });
  return { receipts, sent };
}

/** The fields of a session that receipts read. */
const session = (id: string, userId: string): SocketSession => ({ id, userId, deviceFingerprint: `${id}-device`, v2: true }) as unknown as SocketSession;

/** A message from node `origin` that wants a receipt, as written to `socket`. */
function written(receipts: Receipts, socket: SocketSession, id: string, origin: string, event = 'order'): void {
  const text = JSON.stringify({ event, data: 1 });
  receipts.written(socket, withReceipt({ event, text, byteLength: text.length, reply: false }, { id, origin }));
}

describe('Receipts: the confirmations a node sends to the senders’ nodes', () => {
  it('one envelope per node and turn, one entry per socket with its (id, event) pairs', async () => {
    const { receipts, sent } = deliveringNode();
    const phone = session('s1', 'alice');
    const laptop = session('s2', 'bob');
    written(receipts, phone, 'm1', 'a');
    written(receipts, phone, 'm2', 'a', 'invoice');
    written(receipts, laptop, 'm3', 'a');
    written(receipts, laptop, 'm4', 'b');
    receipts.confirm(phone, ['m1', 'm2']);
    receipts.confirm(laptop, ['m3', 'm4']);
    expect(sent).toEqual([]);
    await nextTurn();
    expect(sent).toHaveLength(2);
    const [toA, toB] = sent.sort((x, y) => x.origin.localeCompare(y.origin));
    expect(toA!.items.map(([user, device, socket, at, ...pairs]) => [user, device, socket, typeof at, pairs])).toEqual([
      ['alice', 's1-device', 's1', 'number', ['m1', 'order', 'm2', 'invoice']],
      ['bob', 's2-device', 's2', 'number', ['m3', 'order']],
    ]);
    expect(toB!.items.map((item) => item.slice(4))).toEqual([['m4', 'order']]);
  });

  it('at most 1,024 ids an envelope: more in one turn go in several', async () => {
    // A socket remembers up to maxPendingPerUser unconfirmed ids: room for all of them.
    const { receipts, sent } = deliveringNode({ ...DEFAULT_RECEIPTS, maxPendingPerUser: 2000 });
    const socket = session('s1', 'alice');
    const ids = Array.from({ length: 1100 }, (_, i) => `m${i}`);
    for (const id of ids) written(receipts, socket, id, 'a');
    for (let i = 0; i < ids.length; i += 256) receipts.confirm(socket, ids.slice(i, i + 256));
    // The first 1,024 went at once; the rest when the turn ends.
    expect(sent.map((e) => e.items.reduce((n, item) => n + (item.length - 4) / 2, 0))).toEqual([1024]);
    await nextTurn();
    const counts = sent.map((e) => e.items.reduce((n, item) => n + (item.length - 4) / 2, 0));
    expect(counts).toEqual([1024, 76]);
    expect(sent.flatMap((e) => e.items.flatMap((item) => item.slice(4).filter((_, i) => i % 2 === 0)))).toEqual(ids);
  });
});
