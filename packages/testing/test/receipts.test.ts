import type { MessageDelivered, MessageUndelivered } from '@wshub/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { FakeHub } from '../src/index.js';

interface User {
  id: string;
  deviceFingerprint: string;
}

afterEach(() => {
  vi.useRealTimers();
});

function watch(hub: FakeHub<User>) {
  const delivered: MessageDelivered[] = [];
  const undelivered: MessageUndelivered[] = [];
  hub.on('delivered', (e) => delivered.push(e));
  hub.on('undelivered', (e) => undelivered.push(e));
  return { delivered, undelivered };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('FakeHub: receipts', () => {
  it("with receipts off, a message sent with options.id carries it, and the FakeSocket does not confirm it (the welcome said receipts: false)", async () => {
    await using hub = new FakeHub<User>();
    const phone = await hub.connect({ id: 'bob', deviceFingerprint: 'phone' });
    await hub.sendMessage('bob', 'order-status', { status: 'shipped' }, null, { id: 'row-1' });
    await hub.sendMessage('bob', 'order-status', { status: 'delivered' });
    await settle();
    await settle();
    expect(phone.received).toEqual([
      { event: 'order-status', data: { status: 'shipped' }, id: 'row-1' },
      { event: 'order-status', data: { status: 'delivered' } },
    ]);
    expect(hub.stats().messagesIn).toBe(0);
    expect(hub.deliveries.map((d) => 'confirmed' in d)).toEqual([false, false]);
  });

  it('a FakeSocket confirms what it gets, as HubClient does; deliveries say whether and when', async () => {
    await using hub = new FakeHub<User>({ receipts: true });
    const seen = watch(hub);
    const phone = await hub.connect({ id: 'bob', deviceFingerprint: 'phone' });
    const laptop = await hub.connect({ id: 'bob', deviceFingerprint: 'laptop' });
    const id = await hub.sendMessage('bob', 'order-status', { status: 'shipped' });
    await settle();
    expect(phone.received).toEqual([{ event: 'order-status', data: { status: 'shipped' }, id }]);
    expect(seen.delivered.map((e) => e.deviceFingerprint).sort()).toEqual(['laptop', 'phone']);
    expect(hub.deliveries).toHaveLength(2);
    for (const d of hub.deliveries) {
      expect(d).toMatchObject({ id, userId: 'bob', confirmed: true, confirmedAt: expect.any(Number) });
    }
    expect(laptop.closed).toBeUndefined();
  });

  it("ack: 'manual' confirms only on socket.ack(); 'undelivered' fires on fake timers", async () => {
    vi.useFakeTimers();
    await using hub = new FakeHub<User>({ receipts: { undeliveredAfterMs: 30_000 } });
    const seen = watch(hub);
    const phone = await hub.connect({ id: 'bob', deviceFingerprint: 'phone' }, { ack: 'manual' });
    const shown = await hub.sendMessage('bob', 'note', 'shown');
    const missed = await hub.sendMessage('bob', 'note', 'not shown');
    await vi.advanceTimersByTimeAsync(10_000);
    await phone.ack(phone.received[0]!);
    expect(seen.delivered.map((e) => e.id)).toEqual([shown]);
    expect(hub.deliveries.map((d) => d.confirmed)).toEqual([true, false]);
    expect(hub.deliveries[0]!.confirmedAt).toBe(Date.now());
    await vi.advanceTimersByTimeAsync(19_999);
    expect(seen.undelivered).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(seen.undelivered).toEqual([{ id: missed, userId: 'bob', event: 'note', data: 'not shown', scope: null }]);
  });

  it('a user with no socket: undelivered after the delay', async () => {
    vi.useFakeTimers();
    await using hub = new FakeHub<User>({ receipts: true });
    const seen = watch(hub);
    const id = await hub.sendMessage('away', 'note', 1);
    await vi.advanceTimersByTimeAsync(30_000);
    expect(seen.undelivered.map((e) => e.id)).toEqual([id]);
  });
});
