import { describe, expect, it } from 'vitest';
import { FakeHub } from '../src/index.js';

interface User {
  id: string;
  deviceFingerprint: string;
}
const bob: User = { id: 'bob', deviceFingerprint: 'phone' };

describe('FakeHub: testing the recovery path without a network', () => {
  it('drop a socket, send meanwhile, reconnect: the replay lands in received and recovered says so', async () => {
    await using hub = new FakeHub<User>({ recovery: true });
    const phone = await hub.connect(bob);
    await hub.sendMessage('bob', 'hello', 1);
    expect(phone.position).toEqual({ epoch: expect.any(String), offset: 1 });
    phone.terminate(); // the network dropped
    await hub.sendMessage('bob', 'order-status', { id: 42, status: 'shipped' });
    await hub.push('news', 'maintenance');
    const again = await hub.connect(bob, { resumeFrom: phone });
    expect(again.recovered).toEqual({ recovered: true, missed: 2 });
    expect(again.received).toEqual([
      { event: 'order-status', data: { id: 42, status: 'shipped' } },
      { event: 'news', data: 'maintenance' },
    ]);
    expect(again.position?.offset).toBe(3);
  });

  it('watches are re-made before resume(), as a client does, and filter the replay', async () => {
    await using hub = new FakeHub<User>({ recovery: true });
    const phone = await hub.connect(bob);
    await phone.watch('order-status', 42);
    phone.terminate();
    await hub.sendMessage('bob', 'order-status', 'for 42', 42);
    await hub.sendMessage('bob', 'order-status', 'for 7', 7);
    const again = await hub.connect(bob);
    await again.watch('order-status', 42);
    expect(await again.resume(phone.position!)).toEqual({ recovered: true, missed: 1 });
    expect(again.received).toEqual([{ event: 'order-status', data: 'for 42' }]);
  });

  it('a gap the history cannot cover: recovered false', async () => {
    await using hub = new FakeHub<User>({ recovery: { maxMessages: 1 } });
    const phone = await hub.connect(bob);
    phone.terminate();
    await hub.sendMessage('bob', 'n', 1);
    await hub.sendMessage('bob', 'n', 2);
    const again = await hub.connect(bob, { resumeFrom: phone });
    expect(again.recovered).toEqual({ recovered: false, missed: 0 });
    expect(again.received).toEqual([]);
  });

  it('without recovery on the hub, resumeFrom says what is missing', async () => {
    await using hub = new FakeHub<User>();
    const phone = await hub.connect(bob);
    expect(phone.position).toBeUndefined();
    await expect(hub.connect(bob, { resumeFrom: phone })).rejects.toThrow('is recovery on');
  });
});
