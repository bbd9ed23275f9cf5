import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ACK, CloseCode, EXPIRING, REFRESH, WELCOME } from '../../src/protocol/protocol.js';
import { type Fixture, startHub } from '../helpers.js';
import { RawClient } from '../hostile/harness.js';
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

  it('1,000 v2 sockets waiting for a shared history to learn its position share one Node timer; each is welcomed after authTimeoutMs', async () => {
    vi.useFakeTimers();
    // A shared history whose store has not answered yet (as RedisHistory before its epoch is read): the position stays unknown.
    const history = {
      record: () => undefined,
      position: () => ({ epoch: '', offset: 0 }),
      positionKnown: () => new Promise<void>(() => {}),
      read: () => undefined,
      close: () => undefined,
    };
    const broker = { attach: () => {}, roles: () => ({ history: () => history }) };
    const hub = new MemoryHub({ broker: broker as never, recovery: true, authTimeoutMs: 5000 });
    const timersBefore = vi.getTimerCount();
    const clients = Array.from({ length: 1000 }, (_, i) => hub.start(`user=u${i}`, true));
    expect(vi.getTimerCount() - timersBefore).toBe(1);
    await vi.advanceTimersByTimeAsync(4999);
    expect(clients.filter((c) => c.connection.written.length > 0).length).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    // The welcome says the position is unknown (epoch ""), as before.
    for (const c of clients) expect(c.connection.written[0]).toMatchObject({ event: WELCOME, data: { protocol: 2, recovery: { epoch: '', offset: 0 } } });
    expect(vi.getTimerCount() - timersBefore).toBe(0);
  });
});

/**
 * Counts the Node timers armed by the hub's own code (a `setTimeout` called
 * from `packages/core/src`, not from `ws` or the test) that have neither
 * fired nor been cleared, and the most there were at once. Real timers: the
 * sockets are real.
 */
function countHubTimers() {
  const realSet = globalThis.setTimeout;
  const realClear = globalThis.clearTimeout;
  const live = new Set<unknown>();
  let peak = 0;
  // Frames: this function's Error, the wrapper below, then whoever called setTimeout.
  const calledFromHub = () => /packages[\\/]core[\\/]src[\\/]/.test(new Error().stack?.split('\n')[3] ?? '');
  const wrapped = (callback: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => {
    if (!calledFromHub()) return realSet(callback, ms, ...args);
    const timer = realSet((...a: unknown[]) => {
      live.delete(timer);
      callback(...a);
    }, ms, ...args);
    live.add(timer);
    peak = Math.max(peak, live.size);
    return timer;
  };
  globalThis.setTimeout = wrapped as typeof setTimeout;
  globalThis.clearTimeout = ((timer: Parameters<typeof clearTimeout>[0]) => {
    live.delete(timer);
    realClear(timer);
  }) as typeof clearTimeout;
  return {
    get count() {
      return live.size;
    },
    get peak() {
      return peak;
    },
    restore() {
      globalThis.setTimeout = realSet;
      globalThis.clearTimeout = realClear;
    },
  };
}

describe('one timer for closing and paused sockets (ws on 127.0.0.1)', () => {
  let fixture: Fixture | undefined;
  let raws: RawClient[] = [];
  let timers: ReturnType<typeof countHubTimers> | undefined;

  afterEach(async () => {
    timers?.restore();
    timers = undefined;
    for (const r of raws) r.socket.destroy();
    raws = [];
    await fixture?.close();
    fixture = undefined;
  });

  /** `count` raw clients (they never answer a close frame), 100 at a time, each admitted. */
  async function openRaw(f: Fixture, count: number, query: (i: number) => string): Promise<RawClient[]> {
    let ready = 0;
    f.hub.on('ready', () => ready++);
    const { port } = f.server.address() as AddressInfo;
    const clients: RawClient[] = [];
    for (let i = 0; i < count; i += 100) {
      const batch = await Promise.all(Array.from({ length: Math.min(100, count - i) }, (_, k) => RawClient.open(port, query(i + k), f.hub.path)));
      raws.push(...batch);
      clients.push(...batch);
    }
    expect(clients.every((c) => c.status === 101)).toBe(true);
    while (ready < count) await new Promise((resolve) => setTimeout(resolve, 10));
    return clients;
  }

  /** When each client's TCP connection ended (ms since the epoch), and the close code it was sent. */
  const endings = (clients: RawClient[]) =>
    Promise.all(clients.map((c) => c.closed.then(({ code, afterMs }) => ({ code, at: Date.now(), closeFrameAt: Date.now() - afterMs }))));

  it('1,000 sockets closing at once (hub.close(), peers that never answer the close frame) hold one hub timer; each is terminated closeTimeoutMs later', async () => {
    const closeTimeoutMs = 1500;
    fixture = await startHub({ closeTimeoutMs, heartbeatMs: 600_000 });
    const clients = await openRaw(fixture, 1000, (i) => `user=u${i}`);
    const ended = endings(clients);
    timers = countHubTimers();
    const started = Date.now();
    const closing = fixture.hub.close();
    // Every session is closing now, each waiting for its peer's answer. (ws holds a timer of its own per closing
    // socket, its closeTimeout, which WsHub sets to closeTimeoutMs: not the hub's, not counted.)
    expect(timers.count).toBe(1);
    const results = await ended;
    await closing;
    expect(results.every((r) => r.code === 1001)).toBe(true);
    // Terminated, not closed by the peer, and not before closeTimeoutMs (less a few ms: ws's own timer counts from the
    // event loop's cached time); a loaded machine may add seconds, not tens.
    expect(Math.min(...results.map((r) => r.at - started))).toBeGreaterThanOrEqual(closeTimeoutMs - 20);
    expect(Math.max(...results.map((r) => r.at - started))).toBeLessThan(closeTimeoutMs + 8000);
    expect(timers.count).toBe(0);
  });

  it('1,000 sockets refused with 4403 that never answer hold one hub timer, and end closeTimeoutMs after their close', async () => {
    const closeTimeoutMs = 2000;
    fixture = await startHub({ closeTimeoutMs, heartbeatMs: 600_000 });
    timers = countHubTimers();
    const { port } = fixture.server.address() as AddressInfo;
    const clients: RawClient[] = [];
    for (let i = 0; i < 1000; i += 100) {
      const batch = await Promise.all(Array.from({ length: 100 }, () => RawClient.open(port, 'user=bad', fixture!.hub.path)));
      raws.push(...batch);
      clients.push(...batch);
    }
    const results = await endings(clients);
    // Refused as they came, each waiting closeTimeoutMs for an answer: never more than one hub timer at once.
    expect(timers.peak).toBe(1);
    expect(results.every((r) => r.code === CloseCode.Forbidden)).toBe(true);
    // The close frame reached the client after the server's clock started: it ends no earlier than closeTimeoutMs after it, less the frame's trip.
    expect(Math.max(...results.map((r) => r.at - r.closeFrameAt))).toBeLessThan(closeTimeoutMs + 8000);
    expect(results.filter((r) => r.at - r.closeFrameAt < closeTimeoutMs - 500)).toEqual([]);
    // ws's own close timer, due at the same time, may end a socket a few ms before the hub's entry fires: then the
    // hub's 'close' takes the entry out. Either way nothing of the hub's stays once the transport reported them all.
    for (const until = Date.now() + 2000; timers.count > 0 && Date.now() < until; ) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(timers.count).toBe(0);
  });

  it('1,000 sockets whose reads are paused hold one hub timer for their pauses; each closes with 4429 after pauseTimeoutMs', async () => {
    const pauseTimeoutMs = 1500;
    const closeTimeoutMs = 500;
    // A canWatch that never answers holds each socket's first watch; the frames behind it queue, and past two reads pause.
    fixture = await startHub({
      canWatch: () => new Promise<boolean>(() => {}),
      watchTimeoutMs: 60_000,
      pauseTimeoutMs,
      closeTimeoutMs,
      heartbeatMs: 600_000,
      limits: { maxQueuedMessages: 2 },
    });
    const clients = await openRaw(fixture, 1000, (i) => `user=u${i}`);
    const ended = endings(clients);
    timers = countHubTimers();
    const sent = Date.now();
    const watch = (c: RawClient, i: number) => c.text(JSON.stringify({ event: 'watch', data: { event: 'orders', payload: String(i) } }));
    for (const c of clients) c.write(Buffer.concat([0, 1, 2, 3].map((i) => watch(c, i))));
    // Read as the hub's own code would not: to see when every session has paused.
    const sessions = (fixture.hub as unknown as { ctx: { sessions: Set<{ paused: boolean }> } }).ctx.sessions;
    const paused = () => [...sessions].filter((session) => session.paused).length;
    while (paused() < 1000 && Date.now() - sent < pauseTimeoutMs) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(paused()).toBe(1000);
    // The 1,000 watches in flight (their canWatch bounded by watchTimeoutMs) and the 1,000 pauses share one timer.
    expect(timers.count).toBe(1);
    const results = await ended;
    expect(results.every((r) => r.code === CloseCode.TooManyRequests)).toBe(true);
    expect(clients.every((c) => c.closeCode === CloseCode.TooManyRequests)).toBe(true);
    // The 4429 comes no earlier than pauseTimeoutMs after the frames were sent, and the unanswered close ends closeTimeoutMs later.
    expect(Math.min(...results.map((r) => r.closeFrameAt - sent))).toBeGreaterThanOrEqual(pauseTimeoutMs);
    expect(Math.max(...results.map((r) => r.closeFrameAt - sent))).toBeLessThan(pauseTimeoutMs + 8000);
    expect(Math.min(...results.map((r) => r.at - sent))).toBeGreaterThanOrEqual(pauseTimeoutMs + closeTimeoutMs - 20);
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
