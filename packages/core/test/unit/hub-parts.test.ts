import { afterEach, describe, expect, it, vi } from 'vitest';
import { ACK, CloseCode, EXPIRING, REFRESH, WELCOME } from '../../src/protocol/protocol.js';
import { type MemoryClient, MemoryHub } from '../support/memory.js';

/** Lets every promise the hub chained settle. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

afterEach(() => {
  vi.useRealTimers();
});

describe('frames/dispatch: the table of the frames the hub answers', () => {
  it('a malformed frame closes with 4400 and the reason names what was wrong', async () => {
    const hub = new MemoryHub();
    const c = await hub.connect('user=u1');
    await c.send('{"no-event":1}');
    expect(c.connection.closedWith?.code).toBe(CloseCode.BadRequest);
    expect(c.connection.closedWith?.reason).toMatch(/event/);
  });

  it('watch and unwatch reach the watch rules; any other event is the app\'s message', async () => {
    const hub = new MemoryHub();
    const messages: unknown[] = [];
    hub.on('message', ({ event, data }) => messages.push({ event, data }));
    const c = await hub.connect('user=u1');
    await c.send({ event: 'watch', data: { event: 'orders', payload: 7 } });
    expect(c.socket.watching).toEqual(new Map([['orders', new Set(['7'])]]));
    await c.send({ event: 'unwatch', data: { event: 'orders', payload: 7 } });
    expect(c.socket.watching.size).toBe(0);
    await c.send({ event: 'chat', data: 'hi' });
    expect(messages).toEqual([{ event: 'chat', data: 'hi' }]);
  });

  it('wshub:refresh is a v2 route: from a v1 client it is an app message, from v2 an ack', async () => {
    const hub = new MemoryHub({ refresh: ({ user }) => user });
    const events: string[] = [];
    hub.on('message', ({ event }) => events.push(event));
    const v1 = await hub.connect('user=u1');
    await v1.send({ event: REFRESH, data: { token: 't' }, id: 1 });
    expect(events).toEqual([REFRESH]);
    const v2 = await hub.connect('user=u2', true);
    await v2.send({ event: REFRESH, data: { token: 't' }, id: 1 });
    await settle();
    expect(events).toEqual([REFRESH]);
    expect(v2.connection.written.at(-1)).toEqual({ event: ACK, data: { id: 1, op: 'refresh', status: 'refreshed' } });
  });

  it('frames sent before authorization are handled after it, in order', async () => {
    let admit!: () => void;
    const gate = new Promise<void>((resolve) => {
      admit = resolve;
    });
    const hub = new MemoryHub({
      authenticate: async () => {
        await gate;
        return { id: 'u1', deviceFingerprint: 'd' };
      },
    });
    const events: string[] = [];
    hub.on('message', ({ event }) => events.push(event));
    const c = hub.start('user=u1', true);
    void c.send({ event: 'first' });
    void c.send({ event: 'second' });
    expect(events).toEqual([]);
    admit();
    expect(await c.socket.isAuthorized).toBe(true);
    await settle();
    expect(c.connection.events()[0]).toBe(WELCOME);
    expect(events).toEqual(['first', 'second']);
  });
});

describe('session-expiry: a user\'s expiresAt', () => {
  it('closes the session with 4401 when expiresAt passes', async () => {
    const hub = new MemoryHub();
    const c = await hub.connect(`user=u1&expires=${Date.now() + 40}`);
    expect(c.connection.closedWith).toBeUndefined();
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(c.connection.closedWith?.code).toBe(CloseCode.SessionExpired);
  });

  it('tells a v2 client ahead when the app has a refresh hook, and only then', async () => {
    const expiresAt = Date.now() + 100;
    const withHook = new MemoryHub({ refresh: ({ user }) => user, refreshAheadMs: 80 });
    const told = await withHook.connect(`user=u1&expires=${expiresAt}`, true);
    const without = new MemoryHub({ refreshAheadMs: 80 });
    const untold = await without.connect(`user=u1&expires=${expiresAt}`, true);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(told.connection.written.at(-1)).toEqual({ event: EXPIRING, data: { expiresAt } });
    expect(untold.connection.events()).toEqual([WELCOME]);
  });

  it('1,000 expiring sessions share one Node timer; each closes at its own expiresAt, and a closed one leaves nothing queued', async () => {
    vi.useFakeTimers();
    const hub = new MemoryHub();
    const timersBefore = vi.getTimerCount();
    const now = Date.now();
    const clients: MemoryClient[] = [];
    for (let i = 0; i < 1000; i++) clients.push(await hub.connect(`user=u${i}&expires=${now + 1000 + i}`));
    expect(vi.getTimerCount() - timersBefore).toBe(1);
    // The transport reports the later half closed: their expiries go with them.
    for (const c of clients.slice(500)) c.connection.terminate();
    vi.advanceTimersByTime(1000 + 249);
    const expired = () => clients.filter((c) => c.connection.closedWith?.code === CloseCode.SessionExpired).length;
    expect(expired()).toBe(250);
    expect(clients[250]!.connection.closedWith).toBeUndefined();
    vi.advanceTimersByTime(250);
    expect(expired()).toBe(500);
    expect(vi.getTimerCount() - timersBefore).toBe(0);
  });

  it('a refresh moves the expiry without another timer, and a session whose new user has no expiresAt never expires', async () => {
    vi.useFakeTimers();
    const hub = new MemoryHub({ refresh: ({ token }) => ({ id: 'u1', deviceFingerprint: 'device-1', ...(token === 'forever' ? {} : { expiresAt: Date.now() + Number(token) }) }) });
    const timersBefore = vi.getTimerCount();
    const moved = await hub.connect(`user=u1&expires=${Date.now() + 1000}`, true);
    const cleared = await hub.connect(`user=u1&device=2&expires=${Date.now() + 1000}`, true);
    await moved.send({ event: REFRESH, id: 1, data: { token: '5000' } });
    await cleared.send({ event: REFRESH, id: 1, data: { token: 'forever' } });
    expect(vi.getTimerCount() - timersBefore).toBe(1);
    vi.advanceTimersByTime(4999);
    expect(moved.connection.closedWith).toBeUndefined();
    vi.advanceTimersByTime(1);
    expect(moved.connection.closedWith?.code).toBe(CloseCode.SessionExpired);
    vi.advanceTimersByTime(60_000);
    expect(cleared.connection.closedWith).toBeUndefined();
    expect(vi.getTimerCount() - timersBefore).toBe(0);
  });

  it('reports a user whose expiresAt is not a number and lets the session live', async () => {
    const hub = new MemoryHub({
      authenticate: () => ({ id: 'u1', deviceFingerprint: 'd', expiresAt: 'soon' as never }),
    });
    const errors: string[] = [];
    hub.on('error', (error) => errors.push(error.message));
    const c = await hub.connect('user=u1');
    expect(errors).toEqual([expect.stringMatching(/"expiresAt" must be a number/)]);
    expect(c.connection.closedWith).toBeUndefined();
  });
});

describe('admission: the handshake clock', () => {
  it('1,000 handshakes in progress share one Node timer; each ends with 4408 after authTimeoutMs', async () => {
    vi.useFakeTimers();
    const hub = new MemoryHub({ authenticate: () => new Promise<never>(() => {}), authTimeoutMs: 5000 });
    const timersBefore = vi.getTimerCount();
    const clients = Array.from({ length: 1000 }, (_, i) => hub.start(`user=u${i}`));
    expect(vi.getTimerCount() - timersBefore).toBe(1);
    vi.advanceTimersByTime(4999);
    expect(clients.filter((c) => c.connection.closedWith).length).toBe(0);
    vi.advanceTimersByTime(1);
    expect(clients.every((c) => c.connection.closedWith?.code === CloseCode.AuthTimeout)).toBe(true);
    expect(vi.getTimerCount() - timersBefore).toBe(0);
  });
});

describe('socket-cap: limits.maxSocketsPerUser', () => {
  it('closes the oldest sockets with 4409 so the newest stays', async () => {
    const hub = new MemoryHub({ limits: { maxSocketsPerUser: 2 } });
    const first = await hub.connect('user=u1&device=a');
    const second = await hub.connect('user=u1&device=b');
    const third = await hub.connect('user=u1&device=c');
    expect(first.connection.closedWith?.code).toBe(CloseCode.TooManySockets);
    expect(second.connection.closedWith).toBeUndefined();
    expect(third.connection.closedWith).toBeUndefined();
    expect(hub.socketsOf('u1').map((s) => s.deviceFingerprint)).toEqual(['b', 'c']);
  });

  it('counts per user: another user\'s sockets are not touched', async () => {
    const hub = new MemoryHub({ limits: { maxSocketsPerUser: 1 } });
    const a = await hub.connect('user=u1');
    const b = await hub.connect('user=u2');
    expect(a.connection.closedWith).toBeUndefined();
    expect(b.connection.closedWith).toBeUndefined();
  });
});
