import { afterEach, describe, expect, it, vi } from 'vitest';
import { FakeHub } from '../src/index.js';

interface User {
  id: string;
  deviceFingerprint: string;
  expiresAt?: number;
}

afterEach(() => {
  vi.useRealTimers();
});

describe('FakeHub: sessions that expire, on fake timers', () => {
  it('advancing the clock past expiresAt closes the socket with 4401', async () => {
    vi.useFakeTimers();
    await using hub = new FakeHub<User>();
    const phone = await hub.connect({ id: 'bob', deviceFingerprint: 'phone', expiresAt: Date.now() + 60_000 });
    await vi.advanceTimersByTimeAsync(59_000);
    expect(phone.closed).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(phone.closed).toEqual({ code: 4401, reason: 'session expired' });
  });

  it('the hub announces the expiry, a refresh renews it, and the socket outlives the first expiry', async () => {
    vi.useFakeTimers();
    await using hub = new FakeHub<User>({
      refresh: ({ token, user }) => ({ ...user, expiresAt: Date.now() + Number(token) }),
    });
    const phone = await hub.connect({ id: 'bob', deviceFingerprint: 'phone', expiresAt: Date.now() + 60_000 });
    await phone.watch('news');
    await vi.advanceTimersByTimeAsync(30_000); // 30 s ahead of expiry (refreshAheadMs)
    expect(phone.expiresAt).toBe(Date.now() + 30_000);
    expect(await phone.refresh('600000')).toBe(Date.now() + 600_000);
    await vi.advanceTimersByTimeAsync(120_000);
    expect(phone.closed).toBeUndefined();
    await hub.push('news', 'still here', undefined, true);
    expect(phone.received).toEqual([{ event: 'news', data: 'still here' }]);
  });

  it('expiresAt is the session\'s expiry from the handshake on, and the new one once a refresh resolves', async () => {
    vi.useFakeTimers();
    await using hub = new FakeHub<User>({
      refresh: ({ token, user }) => ({ ...user, expiresAt: Date.now() + Number(token) }),
    });
    const connectedAt = Date.now();
    const phone = await hub.connect({ id: 'bob', deviceFingerprint: 'phone', expiresAt: connectedAt + 60_000 });
    expect(phone.expiresAt).toBe(connectedAt + 60_000);
    const renewed = await phone.refresh('600000');
    expect(renewed).toBe(connectedAt + 600_000);
    expect(phone.expiresAt).toBe(renewed);
    await vi.advanceTimersByTimeAsync(570_000); // the next notice, 30 s ahead of the renewed expiry
    expect(phone.expiresAt).toBe(renewed);
  });

  it('expiresAt stays undefined for a user without one', async () => {
    await using hub = new FakeHub<User>({ refresh: ({ user }) => user });
    const phone = await hub.connect({ id: 'bob', deviceFingerprint: 'phone' });
    expect(phone.expiresAt).toBeUndefined();
    expect(await phone.refresh('token')).toBeUndefined();
    expect(phone.expiresAt).toBeUndefined();
  });

  it('a refused refresh closes with 4403', async () => {
    await using hub = new FakeHub<User>({
      refresh: () => {
        throw new Error('revoked');
      },
    });
    const phone = await hub.connect({ id: 'bob', deviceFingerprint: 'phone', expiresAt: Date.now() + 60_000 });
    await expect(phone.refresh('x')).rejects.toThrow();
    expect(phone.closed).toEqual({ code: 4403, reason: 'unauthorized' });
  });
});
