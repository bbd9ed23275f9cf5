import { afterEach, describe, expect, it } from 'vitest';
import type { Position } from '../src/index.js';
import { type Fixture, type Received, startHub, type TestSocket, waitFor } from './helpers.js';

let f: Fixture | undefined;
afterEach(async () => {
  await f?.close();
  f = undefined;
});

const V2 = { protocols: ['wshub'] };
let ids = 0;

interface Client {
  socket: TestSocket;
  welcome: Position | undefined;
}

/** A v2 client: connects, waits for the welcome, keeps the recovery position it gives. */
async function connectV2(query: string): Promise<Client> {
  const socket = f!.connect(query, V2);
  const welcome = await socket.next();
  expect(welcome.event).toBe('wshub:welcome');
  return { socket, welcome: (welcome.data as { recovery?: Position }).recovery };
}

async function watch(client: TestSocket, event: string, payload?: string): Promise<string> {
  const id = ++ids;
  client.send({ event: 'watch', id, data: payload === undefined ? { event } : { event, payload } });
  const ack = await client.next();
  expect(ack).toMatchObject({ event: 'wshub:ack', data: { id, op: 'watch' } });
  return (ack.data as { status: string }).status;
}

/** Sends a resume and collects what comes back until its answer. */
async function resume(client: TestSocket, position: unknown): Promise<{ replay: Received[]; ack: Record<string, unknown> }> {
  const id = ++ids;
  client.send({ event: 'wshub:resume', id, data: position });
  const replay: Received[] = [];
  for (;;) {
    const m = await client.next();
    if (m.event === 'wshub:ack' && (m.data as { id?: number }).id === id) return { replay, ack: m.data as Record<string, unknown> };
    replay.push(m);
  }
}

async function leave(client: TestSocket): Promise<void> {
  const gone = waitFor(f!.hub, 'disconnected');
  client.ws.close();
  await gone;
}

describe('recovery: offsets and the welcome', () => {
  it('the welcome carries the position; v2 messages carry offsets that grow; v1 clients see no change', async () => {
    f = await startHub({ recovery: true });
    const v2 = await connectV2('user=bob&device=v2');
    const v1 = await f.ready('user=bob&device=v1');
    expect(v2.welcome).toEqual({ epoch: expect.any(String), offset: 0 });
    await f.hub.sendMessage('bob', 'a', 1);
    await f.hub.push('b', 2);
    await f.hub.push('c', (user) => user.id);
    const got = [await v2.socket.next(), await v2.socket.next(), await v2.socket.next()];
    expect(got).toEqual([
      { event: 'a', data: 1, offset: 1 },
      { event: 'b', data: 2, offset: 2 },
      { event: 'c', data: 'bob', offset: 3 },
    ]);
    expect([await v1.next(), await v1.next(), await v1.next()]).toEqual([
      { event: 'a', data: 1 },
      { event: 'b', data: 2 },
      { event: 'c', data: 'bob' },
    ]);
  });

  it('without recovery the welcome has no position and a resume is answered unavailable', async () => {
    f = await startHub();
    const client = await connectV2('user=bob');
    expect(client.welcome).toBeUndefined();
    const { replay, ack } = await resume(client.socket, { epoch: 'x', offset: 0 });
    expect(replay).toEqual([]);
    expect(ack).toMatchObject({ op: 'resume', status: 'unavailable' });
  });

  it('a v1 client sending wshub:resume is an app message, as before', async () => {
    f = await startHub({ recovery: true });
    const v1 = await f.ready('user=bob');
    const message = waitFor<{ event: string }>(f.hub, 'message');
    v1.send({ event: 'wshub:resume', data: { epoch: 'x', offset: 0 } });
    expect((await message).event).toBe('wshub:resume');
  });
});

describe('recovery: a client that reconnects gets what it missed', () => {
  it('replays sends, per-user pushes and broadcasts in order, with the watches it has now, then answers recovered', async () => {
    f = await startHub({ recovery: true, canWatch: ({ payload }) => payload !== 'secret' });
    const first = await connectV2('user=bob');
    expect(await watch(first.socket, 'order-status', '42')).toBe('allowed');
    await f.hub.sendMessage('bob', 'hello', 0);
    const seen = await first.socket.next();
    const position = { epoch: first.welcome!.epoch, offset: (seen as Received & { offset: number }).offset };
    await leave(first.socket);

    // While bob is away:
    await f.hub.sendMessage('bob', 'order-status', { id: 42, status: 'packed' }, '42');
    await f.hub.sendMessage('bob', 'order-status', { id: 43, status: 'packed' }, '43'); // not watched
    await f.hub.push('news', { text: 'for all' });
    await f.hub.sendMessage('alice', 'hello', 'not bob');
    await f.hub.sendMessage('bob', 'order-status', { id: 0, status: 'secret' }, 'secret'); // never allowed

    const again = await connectV2('user=bob');
    expect(await watch(again.socket, 'order-status', '42')).toBe('allowed');
    expect(await watch(again.socket, 'order-status', 'secret')).toBe('forbidden');
    const { replay, ack } = await resume(again.socket, position);
    expect(replay).toEqual([
      { event: 'order-status', data: { id: 42, status: 'packed' }, scope: '42', offset: position.offset + 1 },
      { event: 'news', data: { text: 'for all' }, offset: position.offset + 3 },
    ]);
    expect(ack).toMatchObject({ op: 'resume', status: 'recovered', missed: 2, epoch: position.epoch, offset: position.offset + 5 });
    // Newer messages come after the answer, with larger offsets.
    await f.hub.sendMessage('bob', 'hello', 'live');
    expect(await again.socket.next()).toEqual({ event: 'hello', data: 'live', offset: position.offset + 6 });
    expect(f.hub.stats()).toMatchObject({ resumed: 1, resumeFailed: 0 });
  });

  it('nothing missed: recovered with missed 0', async () => {
    f = await startHub({ recovery: true });
    const first = await connectV2('user=bob');
    await leave(first.socket);
    const again = await connectV2('user=bob');
    const { replay, ack } = await resume(again.socket, first.welcome);
    expect(replay).toEqual([]);
    expect(ack).toMatchObject({ status: 'recovered', missed: 0 });
  });
});

describe('recovery: never a silent gap', () => {
  it('more missed messages than maxMessages: failed, and the position to start from', async () => {
    f = await startHub({ recovery: { maxMessages: 3 } });
    const first = await connectV2('user=bob');
    await leave(first.socket);
    for (let i = 0; i < 5; i++) await f.hub.sendMessage('bob', 'n', i);
    const again = await connectV2('user=bob');
    const { replay, ack } = await resume(again.socket, first.welcome);
    expect(replay).toEqual([]);
    expect(ack).toMatchObject({ status: 'failed', missed: 0, epoch: first.welcome!.epoch, offset: 5 });
    expect(f.hub.stats().resumeFailed).toBe(1);
  });

  it('broadcasts past maxMessages fail it too, whatever the user got', async () => {
    f = await startHub({ recovery: { maxMessages: 2 } });
    const first = await connectV2('user=bob');
    await leave(first.socket);
    for (let i = 0; i < 3; i++) await f.hub.push('news', i);
    const again = await connectV2('user=bob');
    expect((await resume(again.socket, first.welcome)).ack).toMatchObject({ status: 'failed' });
  });

  it('messages older than ttlMs: failed', async () => {
    f = await startHub({ recovery: { ttlMs: 50 } });
    const first = await connectV2('user=bob');
    await leave(first.socket);
    await f.hub.sendMessage('bob', 'n', 1);
    await new Promise((resolve) => setTimeout(resolve, 80)); // let the message age past ttlMs
    const again = await connectV2('user=bob');
    expect((await resume(again.socket, first.welcome)).ack).toMatchObject({ status: 'failed' });
  });

  it('another epoch (a restarted hub, another history) or an offset from the future: failed', async () => {
    f = await startHub({ recovery: true });
    const client = await connectV2('user=bob&device=1');
    expect((await resume(client.socket, { epoch: 'another', offset: 0 })).ack).toMatchObject({ status: 'failed' });
    const other = await connectV2('user=bob&device=2');
    expect((await resume(other.socket, { epoch: client.welcome!.epoch, offset: 99 })).ack).toMatchObject({ status: 'failed' });
    const restarted = await startHub({ recovery: true });
    try {
      const socket = restarted.connect('user=bob', V2);
      const welcome = await socket.next();
      expect((welcome.data as { recovery: Position }).recovery.epoch).not.toBe(client.welcome!.epoch);
    } finally {
      await restarted.close();
    }
  });

  it.each([
    [null, 'resume "data" must be'],
    [{ epoch: 'e' }, 'resume "data" must be'],
    [{ epoch: 'e', offset: -1 }, 'resume "data" must be'],
  ])('an invalid position %j is answered invalid', async (position, message) => {
    f = await startHub({ recovery: true });
    const client = await connectV2('user=bob');
    const { ack } = await resume(client.socket, position);
    expect(ack).toMatchObject({ status: 'invalid' });
    expect(String(ack.message)).toContain(message);
  });
});

describe('recovery: a bound on every user together (maxUsers, maxBytes)', () => {
  it('past maxUsers the history of the user idle longest goes: their resume fails, the others recover', async () => {
    f = await startHub({ recovery: { maxUsers: 2 } });
    const bob = await connectV2('user=bob');
    const carol = await connectV2('user=carol');
    await leave(bob.socket);
    await leave(carol.socket);
    await f.hub.sendMessage('bob', 'n', 1);
    await f.hub.sendMessage('carol', 'n', 1);
    await f.hub.sendMessage('bob', 'n', 2); // bob is now the more recent
    await f.hub.sendMessage('dave', 'n', 1); // a third history: carol's goes
    const carolAgain = await connectV2('user=carol');
    expect((await resume(carolAgain.socket, carol.welcome)).ack).toMatchObject({ status: 'failed', missed: 0 });
    const bobAgain = await connectV2('user=bob');
    const { replay, ack } = await resume(bobAgain.socket, bob.welcome);
    expect(replay.map((m) => m.data)).toEqual([1, 2]);
    expect(ack).toMatchObject({ status: 'recovered', missed: 2 });
  });

  it('a history started again after its user\'s was dropped does not claim what went before', async () => {
    f = await startHub({ recovery: { maxUsers: 1 } });
    const bob = await connectV2('user=bob');
    await leave(bob.socket);
    await f.hub.sendMessage('bob', 'n', 1);
    await f.hub.sendMessage('carol', 'n', 1); // bob's history goes
    await f.hub.sendMessage('bob', 'n', 2); // a new one for bob, without message 1
    const again = await connectV2('user=bob');
    const { replay, ack } = await resume(again.socket, bob.welcome);
    expect(replay).toEqual([]);
    expect(ack).toMatchObject({ status: 'failed' });
  });

  it('past maxBytes the histories idle longest go first', async () => {
    // About 1,200 bytes per kept message (the text and ~150 bytes): room for four.
    f = await startHub({ recovery: { maxBytes: 5000 } });
    const bob = await connectV2('user=bob');
    const carol = await connectV2('user=carol');
    await leave(bob.socket);
    await leave(carol.socket);
    const body = 'x'.repeat(1000);
    await f.hub.sendMessage('bob', 'n', body);
    await f.hub.sendMessage('carol', 'n', body);
    await f.hub.sendMessage('carol', 'n', body);
    await f.hub.sendMessage('carol', 'n', body);
    await f.hub.sendMessage('dave', 'n', body); // a fifth: bob's goes, carol's three stay
    const bobAgain = await connectV2('user=bob');
    expect((await resume(bobAgain.socket, bob.welcome)).ack).toMatchObject({ status: 'failed' });
    const carolAgain = await connectV2('user=carol');
    expect((await resume(carolAgain.socket, carol.welcome)).ack).toMatchObject({ status: 'recovered', missed: 3 });
  });
});

describe('recovery: one replay per connection', () => {
  it('a second resume on the same socket is answered invalid and replays nothing', async () => {
    f = await startHub({ recovery: true });
    const first = await connectV2('user=bob');
    await leave(first.socket);
    await f.hub.sendMessage('bob', 'n', 1);
    const again = await connectV2('user=bob');
    expect((await resume(again.socket, first.welcome)).ack).toMatchObject({ status: 'recovered', missed: 1 });
    const { replay, ack } = await resume(again.socket, first.welcome);
    expect(replay).toEqual([]);
    expect(ack).toMatchObject({ status: 'invalid', message: 'resume was already answered on this connection' });
  });
});

describe('recovery: a malformed resume, and the per-user budget (limits.resumesPerUser)', () => {
  it('a malformed resume is answered invalid without using up the connection\'s one resume', async () => {
    f = await startHub({ recovery: true });
    const first = await connectV2('user=bob');
    await leave(first.socket);
    await f.hub.sendMessage('bob', 'n', 1);
    const again = await connectV2('user=bob');
    expect((await resume(again.socket, { epoch: first.welcome!.epoch })).ack).toMatchObject({ status: 'invalid' });
    const { replay, ack } = await resume(again.socket, first.welcome);
    expect(replay.map((m) => m.data)).toEqual([1]);
    expect(ack).toMatchObject({ status: 'recovered', missed: 1 });
  });

  it('past the budget a resume on a new connection is answered failed and replays nothing; other users keep theirs', async () => {
    f = await startHub({ recovery: true, limits: { resumesPerUser: 2 } });
    const first = await connectV2('user=bob');
    await leave(first.socket);
    await f.hub.sendMessage('bob', 'n', 1);
    for (let i = 0; i < 2; i++) {
      const client = await connectV2('user=bob');
      expect((await resume(client.socket, first.welcome)).ack).toMatchObject({ status: 'recovered', missed: 1 });
      await leave(client.socket);
    }
    const third = await connectV2('user=bob');
    const { replay, ack } = await resume(third.socket, first.welcome);
    expect(replay).toEqual([]);
    expect(ack).toMatchObject({ status: 'failed', missed: 0, epoch: first.welcome!.epoch, message: expect.stringContaining('limits.resumesPerUser (2 a minute)') });
    const carol = await connectV2('user=carol');
    expect((await resume(carol.socket, carol.welcome)).ack).toMatchObject({ status: 'recovered', missed: 0 });
    expect(f.hub.stats()).toMatchObject({ resumed: 3, resumeFailed: 1 });
  });
});

describe('recovery: options', () => {
  it.each([
    [{ recovery: 'yes' }, /"recovery" must be true, false or/],
    [{ recovery: { maxMessages: 0 } }, /"recovery.maxMessages" must be a positive integer, got 0/],
    [{ recovery: { ttlMs: 1.5 } }, /"recovery.ttlMs" must be a positive integer, got 1.5/],
    [{ recovery: { maxUsers: 0 } }, /"recovery.maxUsers" must be a positive integer, got 0/],
    [{ recovery: { maxBytes: '64MB' } }, /"recovery.maxBytes" must be a positive integer, got "64MB"/],
  ])('%j is a TypeError naming the option', async (options, message) => {
    await expect(startHub(options as never)).rejects.toThrow(message);
  });
});

describe("close({ drainMs }): a rolling deploy", () => {
  it('closes sockets with 1012 spread over drainMs; new upgrades are refused at once', async () => {
    f = await startHub();
    const clients = await Promise.all(Array.from({ length: 10 }, (_, i) => f!.ready(`user=u${i}`)));
    const started = Date.now();
    const closing = f.hub.close({ drainMs: 800 });
    const late = f.connect('user=late');
    await expect(late.opened).rejects.toThrow('unexpected response 503');
    const closes = await Promise.all(clients.map(async (c) => ({ ...(await c.waitForClose()), at: Date.now() - started })));
    await closing;
    expect(new Set(closes.map((c) => c.code))).toEqual(new Set([1012]));
    expect(closes[0]!.reason).toBe('server restarting');
    // Spread over the drain, not all at once: the last close comes well after the first.
    const times = closes.map((c) => c.at).sort((a, b) => a - b);
    expect(times.at(-1)! - times[0]!).toBeGreaterThanOrEqual(400);
  });

  it('rejects a drainMs that is not a non-negative integer', async () => {
    f = await startHub();
    await expect(f.hub.close({ drainMs: -5 })).rejects.toThrow('"drainMs" must be a non-negative integer, got -5');
  });
});
