import type { HubRequest } from '@wshub/core';
import { afterEach, describe, expect, it } from 'vitest';
import { ConnectionRefusedError, FakeHub, type FakeSocket } from '../src/index.js';

interface User {
  id: string;
  deviceFingerprint: string;
  role: 'admin' | 'user';
}

const alice: User = { id: 'alice', deviceFingerprint: 'laptop', role: 'admin' };
const bob: User = { id: 'bob', deviceFingerprint: 'phone', role: 'user' };
const tokens: Record<string, User> = { 'alice-token': alice, 'bob-token': bob };

function authenticate(request: HubRequest): User {
  const url = new URL(request.url ?? '/', `http://${request.headers.host}`);
  const user = tokens[url.searchParams.get('token') ?? ''];
  if (!user) throw new Error('unknown token');
  return { ...user, deviceFingerprint: url.searchParams.get('device') ?? user.deviceFingerprint };
}

/** Users may watch their own orders (order id = `<owner>-<n>`); admins every order. */
const canWatch = ({ user, event, payload }: { user: User; event: string; payload: string | null }) =>
  event !== 'order-status' || user.role === 'admin' || payload?.startsWith(`${user.id}-`) === true;

let hub: FakeHub<User>;
afterEach(() => hub?.close());

describe('connect runs the real handshake', () => {
  it('accepts a user object as if authenticate returned it', async () => {
    hub = new FakeHub<User>();
    const ready: string[] = [];
    hub.on('ready', ({ user }) => ready.push(user.id));
    const socket = await hub.connect(bob);
    expect(socket.user).toEqual(bob);
    expect(ready).toEqual(['bob']);
    expect(hub.socketsOf('bob')).toEqual([socket]);
    expect(hub.connectedUsers()).toEqual(['bob']);
  });

  it('runs authenticate on a request-like object: url, query, headers and cookies', async () => {
    const seen: HubRequest[] = [];
    hub = new FakeHub<User>({
      path: '/ws',
      authenticate: (request) => {
        seen.push(request);
        return bob;
      },
    });
    await hub.connect({ url: '?a=1', query: { token: 'x' }, headers: { Authorization: 'Bearer t' }, cookies: { sid: 's 1' } });
    const [request] = seen as [HubRequest & { cookies: Record<string, string> }];
    expect(request.url).toBe('/ws?a=1&token=x');
    expect(request.headers).toMatchObject({ authorization: 'Bearer t', cookie: 'sid=s%201', host: 'localhost' });
    expect(request.cookies).toEqual({ sid: 's 1' });
  });

  it('rejects a refused request with 4403 and the app’s reason as cause', async () => {
    hub = new FakeHub<User>({ authenticate });
    const error = await hub.connect({ query: { token: 'nope' } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectionRefusedError);
    expect(error).toMatchObject({ code: 4403, reason: 'unauthorized', cause: new Error('unknown token') });
    expect((error as Error).message).toBe(
      'wshub FakeHub: the connection was refused with 4403 (unauthorized): unknown token',
    );
    expect(hub.stats()).toMatchObject({ connections: 0, authRejected: 1 });
  });

  it('rejects with 4408 when authenticate never answers', async () => {
    hub = new FakeHub<User>({ authTimeoutMs: 20, authenticate: () => new Promise<User>(() => {}) });
    await expect(hub.connect({ url: '/' })).rejects.toMatchObject({ code: 4408, reason: 'authentication timeout' });
  });

  it('refuses a user without a deviceFingerprint with 4403, as the real hub does', async () => {
    hub = new FakeHub<User>();
    const errors: string[] = [];
    hub.on('error', (error) => errors.push(error.source));
    await expect(hub.connect({ id: 'carol' } as User)).rejects.toMatchObject({ code: 4403 });
    expect(errors).toEqual(['authenticate']);
  });

  it('is a TypeError to connect with a request when there is no authenticate option', async () => {
    hub = new FakeHub<User>();
    await expect(hub.connect({ headers: {} })).rejects.toThrow(/no "authenticate" option/);
  });
});

describe('watch goes through canWatch and resolves to what the hub decided', () => {
  it('resolves with the hub’s answer, allowed or forbidden; answers are the protocol’s, not messages', async () => {
    hub = new FakeHub<User>({ canWatch });
    const phone = await hub.connect(bob);
    const laptop = await hub.connect({ ...bob, deviceFingerprint: 'laptop' });
    expect(await phone.watch('order-status', 'bob-1')).toBe('allowed');
    expect(await phone.watch('order-status', 'alice-1')).toBe('forbidden');
    expect(phone.received).toEqual([]);
    expect(laptop.received).toEqual([]);
    expect([...phone.watching.get('order-status')!]).toEqual(['bob-1']);
    expect(hub.deliveries).toEqual([]); // a reply of the hub, not a delivery
  });

  it('waits for an async canWatch', async () => {
    hub = new FakeHub<User>({ canWatch: async ({ payload }) => payload === '42' });
    const socket = await hub.connect(bob);
    expect(await socket.watch('order-status', 42)).toBe('allowed');
    expect(await socket.watch('order-status', 43)).toBe('forbidden');
  });

  it('rejects with the hub’s sentence for an invalid watch or one over the limit', async () => {
    hub = new FakeHub<User>({ limits: { maxWatchesPerSocket: 1 } });
    const socket = await hub.connect(bob);
    await expect(socket.watch('')).rejects.toThrow('must be a string of 1 to 200 characters');
    await socket.watch('a');
    await expect(socket.watch('b')).rejects.toThrow('watch limit reached');
    expect(socket.closed).toBeUndefined();
  });

  it('unwatch removes exactly that watch', async () => {
    hub = new FakeHub<User>();
    const socket = await hub.connect(bob);
    await socket.watch('order-status', 1);
    await socket.watch('order-status');
    await socket.unwatch('order-status', 1);
    expect([...socket.watching.get('order-status')!]).toEqual([null]);
  });
});

describe('deliveries record every message with its user, device and socket', () => {
  it('sendMessage goes to the sockets the filter selects', async () => {
    hub = new FakeHub<User>();
    const phone = await hub.connect(bob);
    const laptop = await hub.connect({ ...bob, deviceFingerprint: 'laptop' });
    await laptop.watch('order-status', 7);
    await hub.sendMessage('bob', 'order-status', { status: 'shipped' }, 7);
    await hub.sendMessage('bob', 'hello');
    expect(hub.deliveries).toEqual([
      { userId: 'bob', deviceFingerprint: 'laptop', socketId: laptop.id, event: 'order-status', data: { status: 'shipped' } },
      { userId: 'bob', deviceFingerprint: 'phone', socketId: phone.id, event: 'hello' },
      { userId: 'bob', deviceFingerprint: 'laptop', socketId: laptop.id, event: 'hello' },
    ]);
    expect(phone.received).toEqual([{ event: 'hello' }]);
  });

  it('push runs allow and per-user data once per user, after serialize', async () => {
    hub = new FakeHub<User>({ serialize: (data) => ({ wrapped: data }) });
    await hub.connect(alice);
    await hub.connect(bob);
    await hub.push('alert', (user) => `hi ${user.id}`, (user) => user.role === 'admin');
    expect(hub.deliveries).toMatchObject([{ userId: 'alice', event: 'alert', data: { wrapped: 'hi alice' } }]);
  });

  it('reset closes every socket and forgets deliveries', async () => {
    hub = new FakeHub<User>();
    const socket = await hub.connect(bob);
    await hub.sendMessage('bob', 'hello');
    hub.reset();
    expect(hub.deliveries).toEqual([]);
    expect(socket.closed).toEqual({ code: 1000, reason: '' });
    expect(hub.connectedUsers()).toEqual([]);
  });
});

describe('closing: from the client, by disconnect, by close()', () => {
  it('a client close is reported in disconnected and unregisters the socket', async () => {
    hub = new FakeHub<User>();
    const socket = await hub.connect(bob);
    const gone: number[] = [];
    hub.on('disconnected', ({ code }) => gone.push(code));
    socket.close(1000);
    expect(gone).toEqual([1000]);
    expect(hub.socketsOf('bob')).toEqual([]);
    await expect(socket.emit('x')).rejects.toThrow('cannot send, the socket is closed (1000)');
  });

  it('disconnect closes one device with 4000', async () => {
    hub = new FakeHub<User>();
    const phone = await hub.connect(bob);
    const laptop = await hub.connect({ ...bob, deviceFingerprint: 'laptop' });
    await hub.disconnect('bob', 'phone');
    expect(await phone.waitForClose()).toEqual({ code: 4000, reason: 'disconnected by server: do not reconnect' });
    expect(laptop.closed).toBeUndefined();
  });

  it('await using closes the hub at the end of the scope', async () => {
    let socket: FakeSocket<User>;
    {
      await using scoped = new FakeHub<User>();
      socket = await scoped.connect(bob);
    }
    expect(socket.closed?.code).toBe(1001);
  });

  it('close() ends every socket with 1001 and refuses new connects', async () => {
    hub = new FakeHub<User>();
    const socket = await hub.connect(bob);
    await hub.close();
    expect(socket.closed?.code).toBe(1001);
    await expect(hub.connect(bob)).rejects.toMatchObject({ code: 1001 });
  });
});

describe('next() waits for a message and says what arrived instead', () => {
  it('resolves with a message that arrives later', async () => {
    hub = new FakeHub<User>();
    const socket = await hub.connect(bob);
    const next = socket.next('later');
    setImmediate(() => void hub.sendMessage('bob', 'later', 1));
    expect(await next).toEqual({ event: 'later', data: 1 });
  });

  it('rejects naming the event and the unread messages', async () => {
    hub = new FakeHub<User>();
    const socket = await hub.connect(bob);
    await hub.sendMessage('bob', 'other', { a: 1 });
    await expect(socket.next('wanted', { timeout: 10 })).rejects.toThrow(
      'FakeSocket: no "wanted" message within 10 ms; unread: other {"a":1}',
    );
  });

  it('rejects at once when the socket closes', async () => {
    hub = new FakeHub<User>();
    const socket = await hub.connect(bob);
    const next = socket.next('wanted');
    await hub.disconnect('bob');
    await expect(next).rejects.toThrow('closed with 4000');
  });
});
