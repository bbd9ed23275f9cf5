// The README's first example, as written there (keep the two in step).
import { FakeHub } from '../src/index.js';
import { expect, test } from 'vitest';

interface User { id: string; deviceFingerprint: string; role: 'admin' | 'user' }

test('bob sees his order ship on the phone that watches it', async () => {
  const hub = new FakeHub<User>({
    authenticate(req) {
      const token = new URL(req.url!, 'http://localhost').searchParams.get('token');
      if (token !== 'bob-token') throw new Error('unknown token');
      return { id: 'bob', deviceFingerprint: 'phone', role: 'user' };
    },
    canWatch: ({ user, payload }) => user.role === 'admin' || payload === '42',
  });

  const phone = await hub.connect({ query: { token: 'bob-token' } });
  expect(await phone.watch('order-status', 42)).toBe('allowed');
  expect(await phone.watch('order-status', 7)).toBe('forbidden');

  await hub.sendMessage('bob', 'order-status', { status: 'shipped' }, 42);
  expect(hub.deliveries).toEqual([
    { userId: 'bob', deviceFingerprint: 'phone', socketId: phone.id, event: 'order-status', data: { status: 'shipped' } },
  ]);
  await expect(hub.connect({ query: { token: 'stolen' } })).rejects.toMatchObject({ code: 4403 });
  await hub.close();
});
