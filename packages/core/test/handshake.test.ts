import { afterEach, describe, expect, it } from 'vitest';
import { CloseCode, type HubError, type WsHubSocket } from '../src/index.js';
import { type Fixture, startHub, type User, userFromRequest, waitFor } from './helpers.js';

let f: Fixture | undefined;
afterEach(async () => {
  await f?.close();
  f = undefined;
});

describe('handshake: authenticate accepts', () => {
  it('registers the socket with the AuthWebSocket shape of @kovalenko/nestjs-websocket and emits connected, then ready', async () => {
    f = await startHub();
    const seen: string[] = [];
    f.hub.on('connected', ({ request }) => seen.push(`connected ${request.url}`));
    const ready = waitFor<{ socket: WsHubSocket<User>; user: User }>(f.hub, 'ready');
    f.connect('user=u1&device=phone');
    const { socket, user } = await ready;
    seen.push('ready');
    expect(seen).toEqual(['connected /api/v1/ws?user=u1&device=phone', 'ready']);
    expect(user).toEqual({ id: 'u1', deviceFingerprint: 'phone', role: 'user' });
    expect(socket.roomId).toBe('u1');
    expect(socket.deviceFingerprint).toBe('phone');
    expect(socket.user).toBe(user);
    expect(typeof socket.id).toBe('string');
    expect(socket.watching).toBeInstanceOf(Map);
    await expect(socket.isAuthorized).resolves.toBe(true);
    expect(f.hub.connectedUsers()).toEqual(['u1']);
    expect(f.hub.socketsOf('u1')).toEqual([socket]);
  });

  it('groups every device of a user in one room', async () => {
    f = await startHub();
    await f.ready('user=u1&device=phone');
    await f.ready('user=u1&device=laptop');
    await f.ready('user=u2');
    expect(f.hub.socketsOf('u1').map((s) => s.deviceFingerprint).sort()).toEqual(['laptop', 'phone']);
    expect(f.hub.stats()).toMatchObject({ connections: 3, users: 2 });
  });

  it('accepts an async authenticate', async () => {
    f = await startHub({ authenticate: async (req) => userFromRequest(req) });
    const client = await f.ready('user=u1');
    expect(client.ws.readyState).toBe(1);
  });
});

describe('handshake: authenticate refuses', () => {
  it.each([
    ['throws', () => { throw new Error('bad token: secret'); }],
    ['rejects', async () => { throw new Error('bad token: secret'); }],
  ])('closes with 4403 and a fixed reason when authenticate %s', async (_name, authenticate) => {
    f = await startHub({ authenticate: authenticate as never });
    const connected = waitFor<{ socket: WsHubSocket<User> }>(f.hub, 'connected');
    const disconnected = waitFor<{ authorized: boolean; code: number }>(f.hub, 'disconnected');
    const client = f.connect('user=u1');
    const { socket } = await connected;
    expect(await client.waitForClose()).toEqual({ code: 4403, reason: 'unauthorized' });
    await expect(socket.isAuthorized).resolves.toBe(false);
    expect(await disconnected).toMatchObject({ authorized: false, code: 4403 });
    expect(f.hub.stats()).toMatchObject({ authRejected: 1, connections: 0, users: 0 });
  });

  it.each([
    ['no id', { deviceFingerprint: 'd' }, '"id"'],
    ['a numeric id', { id: 7, deviceFingerprint: 'd' }, '"id"'],
    ['no deviceFingerprint', { id: 'u1' }, '"deviceFingerprint"'],
    ['null', null, 'null'],
    // Redis names hold ids as UTF-8, where every lone surrogate is U+FFFD: such ids would share a channel and a history.
    ['an id with a lone high surrogate', { id: 'u\uD800', deviceFingerprint: 'd' }, '"id" is not well-formed UTF-16'],
    ['an id with a lone low surrogate', { id: '\uDC00u', deviceFingerprint: 'd' }, '"id" is not well-formed UTF-16'],
    ['an id with a reversed pair', { id: 'u\uDE00\uD83D', deviceFingerprint: 'd' }, '"id" is not well-formed UTF-16'],
  ])('closes with 4403 and reports an error for a user with %s', async (_name, user, field) => {
    f = await startHub({ authenticate: () => user as never });
    const error = waitFor<HubError>(f.hub, 'error');
    const client = f.connect('user=u1');
    expect((await client.waitForClose()).code).toBe(CloseCode.Forbidden);
    const err = await error;
    expect(err.source).toBe('authenticate');
    expect(err.message).toContain(field);
    expect(f.hub.connectedUsers()).toEqual([]);
  });
});

describe('handshake: user ids are well-formed UTF-16', () => {
  it('accepts an id with a surrogate pair, and refuses ill-formed ids in sendMessage, disconnect and isOnline', async () => {
    f = await startHub({ authenticate: () => ({ id: 'u\u{1F600}', deviceFingerprint: 'd' }) as never });
    const ready = waitFor(f.hub, 'ready');
    const client = f.connect('user=any');
    await ready;
    await f.hub.sendMessage('u\u{1F600}', 'hello', 1);
    expect(await client.next()).toMatchObject({ event: 'hello', data: 1 });
    for (const id of ['u\uD83D', '\uDE00', 'u\uDE00\uD83D']) {
      await expect(f.hub.sendMessage(id, 'hello', 2)).rejects.toThrow('"userId" must be well-formed UTF-16, got a string with a lone surrogate');
      await expect(f.hub.disconnect(id)).rejects.toThrow(TypeError);
      await expect(f.hub.isOnline(id)).resolves.toBe(false);
    }
  });
});

describe('handshake: auth timeout (fix: @kovalenko/nestjs-websocket hangs forever)', () => {
  it('closes with 4408 when authenticate never settles, and discards a late answer', async () => {
    let settle: ((u: User) => void) | undefined;
    f = await startHub({
      authTimeoutMs: 100,
      authenticate: () =>
        new Promise<User>((resolve) => {
          settle = resolve;
        }),
    });
    const connected = waitFor<{ socket: WsHubSocket<User> }>(f.hub, 'connected');
    let readies = 0;
    f.hub.on('ready', () => readies++);
    const client = f.connect('user=u1');
    const { socket } = await connected;
    expect(await client.waitForClose()).toEqual({ code: 4408, reason: 'authentication timeout' });
    await expect(socket.isAuthorized).resolves.toBe(false);
    settle?.({ id: 'u1', deviceFingerprint: 'd' });
    await new Promise((r) => setImmediate(r));
    expect(readies).toBe(0);
    expect(f.hub.connectedUsers()).toEqual([]);
    expect(f.hub.stats().authTimeouts).toBe(1);
  });
});

describe('handshake: frames before auth settles', () => {
  it('queues them and applies them in order once authorized', async () => {
    let settle: ((u: User) => void) | undefined;
    f = await startHub({
      authenticate: () => new Promise<User>((resolve) => { settle = resolve; }),
    });
    const events: string[] = [];
    f.hub.on('message', ({ event }) => events.push(event));
    const connected = waitFor(f.hub, 'connected');
    const client = f.connect('user=u1');
    await client.opened;
    await connected;
    client.send({ event: 'first' });
    client.watch('order-status', '42');
    client.send({ event: 'second' });
    // Wait until the hub holds all three frames.
    await expect.poll(() => f!.hub.stats().messagesIn).toBe(3);
    expect(events).toEqual([]);
    settle?.({ id: 'u1', deviceFingerprint: 'd' });
    await expect.poll(() => events).toEqual(['first', 'second']);
    expect([...f.hub.socketsOf('u1')[0]!.watching]).toEqual([['order-status', new Set(['42'])]]);
  });

  it(`closes with 4429 after more than maxPendingMessages frames`, async () => {
    f = await startHub({
      limits: { maxPendingMessages: 3 },
      authenticate: () => new Promise<User>(() => {}),
    });
    const connected = waitFor(f.hub, 'connected');
    const client = f.connect('user=u1');
    await client.opened;
    await connected;
    for (let i = 0; i < 4; i++) client.send({ event: `e${i}` });
    expect(await client.waitForClose()).toEqual({ code: 4429, reason: 'too many messages before authentication' });
  });

  it('budgets small watch/unwatch frames apart, so a reconnecting client can re-send all its watches', async () => {
    let settle: ((u: User) => void) | undefined;
    f = await startHub({
      limits: { maxPendingMessages: 2, maxWatchesPerSocket: 5 },
      authenticate: () => new Promise<User>((resolve) => { settle = resolve; }),
    });
    const connected = waitFor(f.hub, 'connected');
    const client = f.connect('user=u1');
    await client.opened;
    await connected;
    for (let i = 0; i < 5; i++) client.watch('order-status', i);
    client.send({ event: 'a' });
    client.send({ event: 'b' });
    await expect.poll(() => f!.hub.stats().messagesIn).toBe(7);
    expect(client.closed).toBeUndefined();
    settle?.({ id: 'u1', deviceFingerprint: 'd' });
    await expect.poll(() => f!.hub.socketsOf('u1')[0]?.watching.get('order-status')?.size).toBe(5);
  });

  it('the watch budget is bounded: past it, watch frames count as ordinary pending frames', async () => {
    f = await startHub({
      limits: { maxPendingMessages: 2, maxWatchesPerSocket: 2 },
      authenticate: () => new Promise<User>(() => {}),
    });
    const connected = waitFor(f.hub, 'connected');
    const client = f.connect('user=u1');
    await client.opened;
    await connected;
    for (let i = 0; i < 4 + 2; i++) client.watch('order-status', i);
    await expect.poll(() => f!.hub.stats().messagesIn).toBe(6);
    expect(f.hub.stats().connections).toBe(1);
    client.watch('order-status', 'one-too-many');
    expect((await client.waitForClose()).code).toBe(4429);
  });

  it('drops the queued frames when auth fails', async () => {
    let fail: ((e: Error) => void) | undefined;
    f = await startHub({ authenticate: () => new Promise<User>((_r, reject) => { fail = reject; }) });
    const events: string[] = [];
    f.hub.on('message', ({ event }) => events.push(event));
    const connected = waitFor(f.hub, 'connected');
    const client = f.connect('user=u1');
    await client.opened;
    await connected;
    client.send({ event: 'queued' });
    await expect.poll(() => f!.hub.stats().messagesIn).toBe(1);
    fail?.(new Error('nope'));
    expect((await client.waitForClose()).code).toBe(4403);
    expect(events).toEqual([]);
  });
});

describe('handshake: a socket that closes before auth settles (fix)', () => {
  it('is never registered, gets no ready, and isAuthorized resolves false', async () => {
    let settle: ((u: User) => void) | undefined;
    f = await startHub({ authenticate: () => new Promise<User>((resolve) => { settle = resolve; }) });
    let readies = 0;
    f.hub.on('ready', () => readies++);
    const connected = waitFor<{ socket: WsHubSocket<User> }>(f.hub, 'connected');
    const disconnected = waitFor<{ authorized: boolean }>(f.hub, 'disconnected');
    const client = f.connect('user=u1');
    const { socket } = await connected;
    client.ws.close(1000);
    expect(await disconnected).toMatchObject({ authorized: false });
    await expect(socket.isAuthorized).resolves.toBe(false);
    settle?.({ id: 'u1', deviceFingerprint: 'd' });
    await new Promise((r) => setImmediate(r));
    expect(readies).toBe(0);
    expect(f.hub.connectedUsers()).toEqual([]);
    expect(f.hub.stats().connections).toBe(0);
  });
});

describe('handshake: disconnected event', () => {
  it('reports userId, deviceFingerprint and the client close code for an authorized socket', async () => {
    f = await startHub();
    const client = await f.ready('user=u1&device=phone');
    const disconnected = waitFor(f.hub, 'disconnected');
    client.ws.close(4321, 'bye');
    expect(await disconnected).toMatchObject({
      userId: 'u1',
      deviceFingerprint: 'phone',
      code: 4321,
      reason: 'bye',
      authorized: true,
    });
    expect(f.hub.connectedUsers()).toEqual([]);
  });
});
