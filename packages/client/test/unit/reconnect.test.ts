import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { HubClient } from '../../src/index.js';
import type { ConnectionState } from '../../src/index.js';
import { type FakeTransport, fakeTransport } from '../support/fake-websocket.js';

const URL = 'ws://hub.test/api/v1/ws';
// Without jitter the delays are exact: 100, 200, 400, 800, 1000, 1000...
const reconnect = { initialDelayMs: 100, maxDelayMs: 1000, factor: 2, jitter: 0, resetAfterMs: 5000 };

let transport: FakeTransport;
const clients: HubClient[] = [];

function client(options: ConstructorParameters<typeof HubClient>[1] = {}): HubClient {
  const c = new HubClient(URL, { WebSocket: transport.WebSocket, reconnect, ...options });
  clients.push(c);
  return c;
}

/** Lets the client create its socket (it awaits the token provider first). */
async function settle(): Promise<void> {
  await vi.advanceTimersByTimeAsync(0);
}

/** Milliseconds until the client creates its next socket, measured in 1 ms steps up to `limit`. */
async function timeToNextSocket(limit = 2000): Promise<number> {
  const before = transport.sockets.length;
  for (let elapsed = 0; elapsed <= limit; elapsed++) {
    if (transport.sockets.length > before) return elapsed;
    await vi.advanceTimersByTimeAsync(1);
  }
  throw new Error(`no new socket within ${limit} ms`);
}

beforeEach(() => {
  vi.useFakeTimers();
  transport = fakeTransport();
});

afterEach(async () => {
  for (const c of clients.splice(0)) void c.close();
  vi.restoreAllMocks();
  vi.useRealTimers();
});

describe('backoff timing', () => {
  it('waits the exponential ceilings, capped at maxDelayMs, while attempts keep failing', async () => {
    client();
    await settle();
    const delays: number[] = [];
    for (let i = 0; i < 6; i++) {
      transport.last().drop();
      delays.push(await timeToNextSocket());
    }
    expect(delays).toEqual([100, 200, 400, 800, 1000, 1000]);
  });

  it('applies full jitter from Math.random', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.75);
    client({ reconnect: { ...reconnect, jitter: 1 } });
    await settle();
    transport.last().drop();
    expect(await timeToNextSocket()).toBe(25);
    transport.last().drop();
    expect(await timeToNextSocket()).toBe(50);
  });

  it('reports the delay it will wait in the close event', async () => {
    const c = client();
    const closes: unknown[] = [];
    c.on('close', (info) => closes.push(info));
    await settle();
    transport.last().open();
    transport.last().serverClose(1001, 'server shutting down');
    expect(closes).toEqual([{ code: 1001, reason: 'server shutting down', retryInMs: 100 }]);
  });

  it('goes back to the first step after a connection that lasted resetAfterMs', async () => {
    client();
    await settle();
    transport.last().drop();
    expect(await timeToNextSocket()).toBe(100);
    transport.last().drop();
    expect(await timeToNextSocket()).toBe(200);
    transport.last().open();
    await vi.advanceTimersByTimeAsync(5000);
    transport.last().drop();
    expect(await timeToNextSocket()).toBe(100);
  });

  it('keeps growing the delay when each connection opens and drops at once', async () => {
    client();
    await settle();
    const delays: number[] = [];
    for (let i = 0; i < 4; i++) {
      transport.last().open();
      transport.last().serverClose(4408, 'authentication timeout');
      delays.push(await timeToNextSocket());
    }
    expect(delays).toEqual([100, 200, 400, 800]);
  });

  it('gives up after maxAttempts failed attempts in a row, and says so', async () => {
    const c = client({ reconnect: { ...reconnect, maxAttempts: 2 } });
    const errors: Error[] = [];
    c.on('error', (error) => errors.push(error));
    await settle();
    transport.last().drop();
    await timeToNextSocket();
    transport.last().drop();
    await timeToNextSocket();
    transport.last().drop();
    expect(c.state).toBe('closed');
    expect(errors.map((e) => e.message)).toEqual([
      'wshub client: gave up after 2 reconnection attempts (reconnect.maxAttempts is 2)',
    ]);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(transport.sockets).toHaveLength(3);
  });

  it('with reconnect: false, closes after the first drop without an error', async () => {
    const c = client({ reconnect: false });
    const errors: Error[] = [];
    c.on('error', (error) => errors.push(error));
    await settle();
    transport.last().open();
    transport.last().drop();
    expect(c.state).toBe('closed');
    expect(errors).toEqual([]);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(transport.sockets).toHaveLength(1);
  });

  it('close() during the backoff wait cancels the next attempt', async () => {
    const c = client();
    await settle();
    transport.last().drop();
    expect(c.state).toBe('reconnecting');
    await c.close();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(transport.sockets).toHaveLength(1);
    expect(c.state).toBe('closed');
  });

  it('a close() from a close handler wins over the scheduled attempt', async () => {
    const c = client();
    const states: ConnectionState[] = [];
    c.on('state', (s) => states.push(s));
    c.on('close', () => void c.close());
    await settle();
    transport.last().open();
    transport.last().drop();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(transport.sockets).toHaveLength(1);
    expect(states).toEqual(['open', 'closed']);
  });
});

describe('states', () => {
  it('goes connecting → open → reconnecting → open → closed', async () => {
    const c = client();
    const states: ConnectionState[] = [c.state];
    c.on('state', (s) => states.push(s));
    await settle();
    transport.last().open();
    transport.last().drop();
    await timeToNextSocket();
    transport.last().open();
    await c.close();
    expect(states).toEqual(['connecting', 'open', 'reconnecting', 'open', 'closed']);
    expect(transport.last().closedWith).toEqual({ code: 1000, reason: 'client closed' });
  });

  it('is reconnecting, not connecting, when the first attempt fails', async () => {
    const c = client();
    await settle();
    transport.last().drop();
    expect(c.state).toBe('reconnecting');
  });

  it('close() is idempotent and resolves once the socket has closed', async () => {
    const c = client();
    await settle();
    transport.last().open();
    const first = c.close();
    expect(c.close()).toBe(first);
    expect(transport.last().readyState).toBe(2);
    await first;
    expect(transport.last().readyState).toBe(3);
  });
});

describe('connect timeout', () => {
  it('closes an attempt not open after 10 s by default, and retries it with backoff', async () => {
    const c = client();
    const closes: unknown[] = [];
    c.on('close', (info) => closes.push(info));
    await settle();
    const first = transport.last();
    await vi.advanceTimersByTimeAsync(9_999);
    expect(first.closedWith).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(first.closedWith).toEqual({ code: 1000, reason: 'client closed' });
    expect(closes).toEqual([{ code: 1006, reason: 'the connection did not open within 10000 ms (connectTimeoutMs)', retryInMs: 100 }]);
    expect(c.state).toBe('reconnecting');
    expect(await timeToNextSocket()).toBe(100);
  });

  it('counts timed-out attempts toward maxAttempts', async () => {
    const c = client({ connectTimeoutMs: 50, reconnect: { ...reconnect, maxAttempts: 1 } });
    const errors: Error[] = [];
    c.on('error', (error) => errors.push(error));
    await settle();
    await vi.advanceTimersByTimeAsync(50);
    await timeToNextSocket();
    await vi.advanceTimersByTimeAsync(50);
    expect(c.state).toBe('closed');
    expect(errors.map((e) => e.message)).toEqual(['wshub client: gave up after 1 reconnection attempts (reconnect.maxAttempts is 1)']);
  });

  it('stops counting once the socket opened, and after close()', async () => {
    const c = client({ connectTimeoutMs: 50 });
    await settle();
    transport.last().open();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(c.state).toBe('open');
    expect(transport.sockets).toHaveLength(1);
    transport.last().drop();
    await timeToNextSocket();
    await c.close();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(transport.sockets).toHaveLength(2);
    expect(c.state).toBe('closed');
  });
});

describe('close-code policy', () => {
  it.each([
    [4403, 'unauthorized'],
    [4000, 'ended'],
    [4409, 'ended'],
  ] as const)('%i: stops and emits %s', async (code, event) => {
    const c = client();
    const seen: unknown[] = [];
    c.on(event, (info) => seen.push(info));
    await settle();
    transport.last().open();
    transport.last().serverClose(code, 'why');
    expect(seen).toEqual([{ code, reason: 'why', retryInMs: null }]);
    expect(c.state).toBe('closed');
    await vi.advanceTimersByTimeAsync(60_000);
    expect(transport.sockets).toHaveLength(1);
  });

  it.each([4400, 1002, 1003, 1007, 1008, 1009])('%i: stops and reports a client bug', async (code) => {
    const c = client();
    const errors: Error[] = [];
    c.on('error', (error) => errors.push(error));
    await settle();
    transport.last().open();
    transport.last().serverClose(code, 'invalid message');
    expect(c.state).toBe('closed');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ name: 'ClientBugError', code, reason: 'invalid message' });
    expect(errors[0]?.message).toContain(`closed the connection with ${code} (invalid message)`);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(transport.sockets).toHaveLength(1);
  });

  it.each([1001, 1006, 1011, 1012, 1013, 4008, 4401, 4408, 4429])('%i: reconnects', async (code) => {
    const c = client();
    const unexpected: unknown[] = [];
    for (const event of ['unauthorized', 'ended', 'error'] as const) c.on(event, (x) => unexpected.push(x));
    await settle();
    transport.last().open();
    transport.last().serverClose(code);
    expect(c.state).toBe('reconnecting');
    expect(await timeToNextSocket()).toBe(100);
    expect(unexpected).toEqual([]);
  });
});

describe('token', () => {
  it('asks for a token before every attempt and puts it in the URL next to the query option', async () => {
    let n = 0;
    client({ token: async () => `t${++n}`, query: { v: 2, debug: true } });
    await settle();
    transport.last().drop();
    await timeToNextSocket();
    expect(transport.sockets.map((s) => s.url)).toEqual([`${URL}?v=2&debug=true&token=t1`, `${URL}?v=2&debug=true&token=t2`]);
    expect(transport.last().protocols).toEqual(['wshub']);
  });

  it("with tokenIn: 'protocol', offers it after \"wshub\" and keeps it out of the URL", async () => {
    let n = 0;
    client({ token: () => `t${++n}`, tokenIn: 'protocol', protocols: ['extra'] });
    await settle();
    transport.last().drop();
    await timeToNextSocket();
    expect(transport.sockets.map((s) => s.protocols)).toEqual([
      ['wshub', 't1', 'extra'],
      ['wshub', 't2', 'extra'],
    ]);
    expect(transport.last().url).toBe(URL);
  });

  it('URL-encodes a query token', async () => {
    client({ token: () => 'a b/c+d=' });
    await settle();
    expect(new globalThis.URL(transport.last().url).searchParams.get('token')).toBe('a b/c+d=');
  });

  it('counts a failing token provider as a failed attempt and reports it', async () => {
    let fail = true;
    const c = client({
      token: async () => {
        if (fail) throw new Error('refresh endpoint is down');
        return 'ok';
      },
    });
    const errors: Error[] = [];
    c.on('error', (error) => errors.push(error));
    await settle();
    expect(transport.sockets).toHaveLength(0);
    expect(c.state).toBe('reconnecting');
    expect(errors.map((e) => e.message)).toEqual(['wshub client: the "token" function failed: refresh endpoint is down']);
    fail = false;
    expect(await timeToNextSocket()).toBe(100);
    expect(transport.last().url).toBe(`${URL}?token=ok`);
  });

  it.each([
    ['', 'the "token" function must return a non-empty string, got ""'],
    [42, 'the "token" function must return a non-empty string, got 42'],
  ])('refuses the token %j without opening a socket', async (token, message) => {
    const c = client({ token: () => token as string });
    const errors: Error[] = [];
    c.on('error', (error) => errors.push(error));
    await settle();
    expect(transport.sockets).toHaveLength(0);
    expect(errors[0]?.message).toContain(message);
  });

  it("with tokenIn: 'protocol', refuses a token a subprotocol cannot carry, saying what to do", async () => {
    const c = client({ token: () => 'has space', tokenIn: 'protocol' });
    const errors: Error[] = [];
    c.on('error', (error) => errors.push(error));
    await settle();
    expect(transport.sockets).toHaveLength(0);
    expect(errors[0]?.message).toContain("the token has characters Sec-WebSocket-Protocol cannot carry");
    expect(errors[0]?.message).toContain("set tokenIn: 'query'");
  });

  it('does not connect if closed while the token provider is pending', async () => {
    let resolve!: (token: string) => void;
    const c = client({ token: () => new Promise<string>((r) => (resolve = r)) });
    await settle();
    await c.close();
    resolve('late');
    await settle();
    expect(transport.sockets).toHaveLength(0);
  });
});
