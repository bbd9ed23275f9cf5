import { describe, expect, it } from 'vitest';
import { type Numbered, RecordedOrder } from '../src/recorded-order.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const msg = (offset: number, userId?: string): Numbered => ({ offset, userId, filter: null, event: 'n', text: String(offset) });

function keeper(windowMs: number, start = 0) {
  const delivered: number[] = [];
  const late: Array<[string | undefined, number, number]> = [];
  const order = new RecordedOrder(
    { deliver: (m) => delivered.push(m.offset), outOfOrder: (user, floor, m) => late.push([user, floor, m.offset]) },
    windowMs,
    start,
  );
  return { order, delivered, late };
}

describe('RecordedOrder: what a node delivers on Redis Cluster leaves in offset order', () => {
  it('messages of two histories that arrive crossed within the window leave sorted', async () => {
    const { order, delivered, late } = keeper(30);
    order.add(msg(20, 'bob'));
    order.add(msg(10)); // a broadcast numbered before, arriving after
    order.add(msg(15, 'bob'));
    expect(delivered).toEqual([]);
    await sleep(60);
    expect(delivered).toEqual([10, 15, 20]);
    expect(late).toEqual([]);
  });

  it('a user message later than the window behind a higher offset is reported for that user, not delivered', async () => {
    const { order, delivered, late } = keeper(5);
    order.add(msg(20)); // broadcast
    await sleep(20);
    order.add(msg(15, 'bob'));
    order.add(msg(25, 'carol'));
    await sleep(20);
    expect(delivered).toEqual([20, 25]);
    expect(late).toEqual([['bob', 20, 15]]);
  });

  it('a broadcast later than the window behind a user message is reported for the users who got more, and delivered to the rest', async () => {
    const { order, delivered, late } = keeper(5);
    order.add(msg(20, 'bob'));
    order.add(msg(8, 'carol'));
    await sleep(20);
    order.add(msg(15));
    await sleep(20);
    expect(delivered).toEqual([8, 20, 15]);
    expect(late).toEqual([['bob', 20, 15]]);
    // bob's floor is gone with his sockets; the next broadcast above carol's reaches everyone.
    order.add(msg(30));
    await sleep(20);
    expect(late).toHaveLength(1);
  });

  it('the floor a new socket starts at is above nothing delivered later', async () => {
    const { order, delivered } = keeper(0, 100);
    expect(order.floor).toBe(100);
    order.add(msg(120));
    await sleep(5);
    expect(order.floor).toBe(120);
    expect(delivered).toEqual([120]);
  });
});
