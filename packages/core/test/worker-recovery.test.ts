/**
 * Message recovery on node:cluster workers: the primary's WorkerRelay keeps
 * the one history of every worker. Real cluster (test/worker/primary.mjs),
 * real sockets.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { RelayHistory } from '../src/brokers/relay-history.js';
import type { RelayOp } from '../src/brokers/worker-ipc.js';
import { DEFAULT_RECOVERY } from '../src/index.js';
import type { Received, TestSocket } from './helpers.js';
import { Primary } from './worker/driver.js';

const V2 = ['wshub'];
type Position = { epoch: string; offset: number };
type Numbered = Received & { offset: number };

const primaries: Primary[] = [];
afterEach(async () => {
  await Promise.all(primaries.splice(0).map((p) => p.stop()));
});

function start(env: Record<string, string> = {}, execArgv?: string[]): Primary {
  const primary = new Primary({ env: { WSHUB_RECOVERY: 'true', WSHUB_RECEIPTS: 'off', ...env }, ...(execArgv ? { execArgv } : {}) });
  primaries.push(primary);
  return primary;
}

let ids = 0;
/** Sends a resume and collects what comes back until its answer. */
async function resume(socket: TestSocket, position: unknown) {
  const id = ++ids;
  socket.send({ event: 'wshub:resume', id, data: position });
  const replay: Received[] = [];
  for (;;) {
    const m = await socket.next(5000);
    if (m.event === 'wshub:ack' && (m.data as { id?: number }).id === id) return { replay, ack: m.data as Record<string, unknown> };
    replay.push(m);
  }
}

describe('WorkerBroker: message recovery, with the history in the primary', () => {
  it('every worker delivers the relay\'s offsets; a resume on another worker replays what was missed, in order', async () => {
    const p = start();
    const w1 = await p.fork();
    const w2 = await p.fork();
    const first = await p.connectOn(w1, 'user=ann&device=a', V2);
    const welcome = first.welcome as Position;
    expect(welcome).toEqual({ epoch: expect.any(String), offset: expect.any(Number) });
    await p.call(w2, 'sendMessage', { userId: 'ann', event: 'n', data: 1 });
    await p.call(w1, 'broadcast', { event: 'all', data: 2 });
    const got = [(await first.socket.next()) as Numbered, (await first.socket.next()) as Numbered];
    expect(got).toEqual([
      { event: 'n', data: 1, offset: welcome.offset + 1 },
      { event: 'all', data: 2, offset: welcome.offset + 2 },
    ]);
    first.socket.ws.close();
    await first.socket.waitForClose();

    // While ann is away, from both workers:
    await p.call(w1, 'sendMessage', { userId: 'ann', event: 'n', data: 3 });
    await p.call(w2, 'sendMessage', { userId: 'bob', event: 'n', data: 'not ann' });
    await p.call(w2, 'broadcast', { event: 'all', data: 4 });
    await p.call(w2, 'sendMessage', { userId: 'ann', event: 'n', data: 5 });

    const again = await p.connectOn(w2, 'user=ann&device=a', V2);
    const { replay, ack } = await resume(again.socket, { epoch: welcome.epoch, offset: got[1]!.offset });
    expect(replay.map((m) => m.data)).toEqual([3, 4, 5]);
    const offsets = replay.map((m) => (m as Numbered).offset);
    expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
    expect(ack).toMatchObject({ op: 'resume', status: 'recovered', missed: 3, epoch: welcome.epoch });
    await p.call(w1, 'sendMessage', { userId: 'ann', event: 'n', data: 'live' });
    expect(await again.socket.next()).toMatchObject({ data: 'live', offset: (ack.offset as number) + 1 });
  });

  it('a message sent again with its id through another worker is recorded and delivered once', async () => {
    const p = start();
    const w1 = await p.fork();
    const w2 = await p.fork();
    const ann = await p.connectOn(w1, 'user=ann&device=a', V2);
    const bob = await p.connectOn(w2, 'user=bob&device=b', V2);
    // Each worker's hub drops only the ids it sent itself: the repeats come through the other worker.
    await p.call(w1, 'sendMessage', { userId: 'ann', event: 'n', data: 1, id: 'row-1' });
    await p.call(w2, 'sendMessage', { userId: 'ann', event: 'n', data: 1, id: 'row-1' });
    await p.call(w1, 'broadcast', { event: 'all', data: 2, id: 'row-2' });
    await p.call(w2, 'broadcast', { event: 'all', data: 2, id: 'row-2' });
    await p.call(w1, 'sendMessage', { userId: 'ann', event: 'n', data: 'end' });
    await p.call(w1, 'sendMessage', { userId: 'bob', event: 'n', data: 'end' });
    const until = async (socket: TestSocket) => {
      const got: unknown[] = [];
      for (let m = await socket.next(); m.data !== 'end'; m = await socket.next()) got.push(m.data);
      return got;
    };
    expect(await until(ann.socket)).toEqual([1, 2]);
    expect(await until(bob.socket)).toEqual([2]);
    // A resume replays each once too.
    const again = await p.connectOn(w2, 'user=ann&device=c', V2);
    const { replay } = await resume(again.socket, ann.welcome);
    expect(replay.map((m) => m.data)).toEqual([1, 2, 'end']);
  });

  it('the history survives the death of a worker: a client of the dead one resumes on another', async () => {
    const p = start();
    const w1 = await p.fork();
    const w2 = await p.fork();
    const first = await p.connectOn(w1, 'user=cid', V2);
    await p.call(w1, 'sendMessage', { userId: 'cid', event: 'n', data: 1 });
    const seen = (await first.socket.next()) as Numbered;
    await p.call(w1, 'sendMessage', { userId: 'cid', event: 'n', data: 2 }); // recorded: the relay has it
    await p.command('kill', { worker: w1 });
    await first.socket.waitForClose();
    await p.call(w2, 'sendMessage', { userId: 'cid', event: 'n', data: 3 });
    const w3 = await p.fork();
    const again = await p.connect('user=cid', V2);
    expect([w2, w3]).toContain(again.worker);
    const { replay, ack } = await resume(again.socket, { epoch: (first.welcome as Position).epoch, offset: seen.offset });
    // 2 may have reached the socket before the worker died; the replay has everything after the client's position.
    expect(replay.map((m) => m.data)).toEqual([2, 3]);
    expect(ack).toMatchObject({ status: 'recovered', missed: 2 });
  });

  it('a new primary is a new history: a resume from the old one is answered failed', async () => {
    const old = start();
    const w = await old.fork();
    const before = await old.connectOn(w, 'user=dee', V2);
    const position = before.welcome as Position;
    await old.stop();
    const p = start();
    await p.fork();
    const again = await p.connect('user=dee', V2);
    expect((again.welcome as Position).epoch).not.toBe(position.epoch);
    const { replay, ack } = await resume(again.socket, position);
    expect(replay).toEqual([]);
    expect(ack).toMatchObject({ status: 'failed', epoch: (again.welcome as Position).epoch });
  });

  it('past maxUsers the histories idle longest go: their resume fails, the others recover', async () => {
    const p = start({ WSHUB_RECOVERY: JSON.stringify({ maxUsers: 2 }) });
    const w = await p.fork();
    const eve = await p.connect('user=eve', V2);
    const position = eve.welcome as Position;
    eve.socket.ws.close();
    await eve.socket.waitForClose();
    for (const userId of ['eve', 'fay', 'gus']) await p.call(w, 'sendMessage', { userId, event: 'n', data: userId });
    const stats = await p.command<{ historyUsers: number }>('relayStats');
    expect(stats.historyUsers).toBe(2);
    const again = await p.connect('user=eve', V2);
    expect((await resume(again.socket, position)).ack).toMatchObject({ status: 'failed' });
    const gus = await p.connect('user=gus', V2);
    const { replay, ack } = await resume(gus.socket, position);
    expect(replay.map((m) => m.data)).toEqual(['gus']);
    expect(ack).toMatchObject({ status: 'recovered' });
  });
});

describe('WorkerRelay: a message that races a user\'s first socket on a worker', () => {
  /** The relay's history with one worker link, `w`, that holds every user. */
  function relayHistory() {
    const sent: RelayOp[] = [];
    const history = new RelayHistory<'w'>({ linksOf: () => ['w'], send: (_link, op) => sent.push(op) });
    history.open('w', DEFAULT_RECOVERY);
    sent.length = 0;
    return { history, sent };
  }

  it('recorded after the worker sent its subscription and past what it had seen: its sockets of the user resume', () => {
    const { history, sent } = relayHistory();
    const sentAt = Date.now();
    history.record('ivy', null, 'n', '{"event":"n","data":1}');
    sent.length = 0;
    history.subscribed('w', 'ivy', 0, sentAt);
    expect(sent).toEqual([['resume', 'ivy']]);
    history.close();
  });

  it('a repeated id is dropped while the history keeps its first message, and recorded again once that is gone', () => {
    const sent: RelayOp[] = [];
    const history = new RelayHistory<'w'>({ linksOf: () => ['w'], send: (_link, op) => sent.push(op) });
    history.open('w', { ...DEFAULT_RECOVERY, maxMessages: 2 });
    sent.length = 0;
    history.record('ivy', null, 'n', 'a', 'x');
    history.record('ivy', null, 'n', 'a again', 'x');
    history.record(null, null, 'n', 'b', 'x');
    history.record(null, null, 'n', 'b again', 'x');
    // The history drops a repeat per user (the hub drops any repeat it sent itself).
    history.record('joe', null, 'n', 'for joe', 'x');
    history.record('ivy', null, 'n', 'c', 'y');
    history.record('ivy', null, 'n', 'd');
    // ivy's history keeps 2: `a` went, and its id with it.
    history.record('ivy', null, 'n', 'a later', 'x');
    expect(sent.map((op) => op[5])).toEqual(['a', 'b', 'for joe', 'c', 'd', 'a later']);
    history.close();
  });

  it('recorded before the socket connected, or already seen by the worker: nothing to do', () => {
    const { history, sent } = relayHistory();
    history.record('ivy', null, 'n', '{"event":"n","data":1}');
    sent.length = 0;
    history.subscribed('w', 'ivy', 0, Date.now() + 1);
    history.subscribed('w', 'ivy', 1, 0);
    history.subscribed('w', 'nobody', 0, 0);
    expect(sent).toEqual([]);
    history.close();
  });

  it('a user who got messages while offline connects to an idle worker: welcomed, not closed', async () => {
    const p = start();
    const w1 = await p.fork();
    const w2 = await p.fork();
    await p.call(w1, 'sendMessage', { userId: 'jo', event: 'n', data: 'while away' });
    // Recorded by the relay (a send resolves once queued in the worker) before jo connects.
    for (let i = 0; i < 500 && (await p.command<{ historyUsers?: number }>('relayStats')).historyUsers !== 1; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const channels = async () => (await p.command<{ channels: number }>('relayStats')).channels;
    const before = await channels();
    const jo = await p.connectOn(w2, 'user=jo', V2);
    // The live message must not race w2's subscription to the relay (that race closes with 1012 for a resume, by design).
    for (let i = 0; i < 500 && (await channels()) === before; i++) await new Promise((r) => setTimeout(r, 20));
    await p.call(w1, 'sendMessage', { userId: 'jo', event: 'n', data: 'live' });
    expect(await jo.socket.next()).toMatchObject({ data: 'live' });
    expect(jo.socket.ws.readyState).toBe(jo.socket.ws.OPEN);
    // Two forks and two waits of up to 10 s each: on a busy machine more than the default 15 s.
  }, 45_000);
});

describe('WorkerBroker: with recovery, the worker limits still hold (highWaterMarkBytes, maxQueuedBytes)', () => {
  it('an app that does not await is refused past maxQueuedBytes; one that awaits waits, and nothing is refused', async () => {
    const maxQueuedBytes = 256 * 1024;
    const p = start({ WSHUB_BROKER_OPTIONS: JSON.stringify({ highWaterMarkBytes: 64 * 1024, maxQueuedBytes }) });
    const w1 = await p.fork();
    const w2 = await p.fork();
    const hal = await p.connectOn(w2, 'user=hal', V2);
    const burst = await p.call<{ refused: number; first?: string }>(w1, 'burst', { userId: 'hal', count: 2000, bytes: 1024 });
    expect(burst.refused).toBeGreaterThan(0);
    expect(burst.first).toMatch(/^RangeError: .*full \(maxQueuedBytes, 262144\)/);
    const flood = await p.call<{ errors: string[]; peakQueued: number }>(w1, 'flood', { userId: 'hal', count: 3000, bytes: 1024 });
    expect(flood.errors).toEqual([]);
    expect(flood.peakQueued).toBeLessThan(maxQueuedBytes);
    // Every accepted message reached hal, numbered, in order.
    const expected = 2000 - burst.refused + 3000;
    let last = 0;
    for (let i = 0; i < expected; i++) {
      const m = (await hal.socket.next(5000)) as Numbered;
      expect(m.offset).toBeGreaterThan(last);
      last = m.offset;
    }
  }, 30_000);
});

describe('WorkerBroker: the relay\'s history stays bounded', () => {
  it('200,000 messages to distinct offline users: the primary\'s heap stays within its bound (a 64 MiB heap)', async () => {
    const maxBytes = 4 * 1024 * 1024;
    const p = start({ WSHUB_RECOVERY: JSON.stringify({ maxUsers: 20_000, maxBytes }) }, ['--max-old-space-size=64']);
    const w1 = await p.fork();
    const w2 = await p.fork();
    await Promise.all([
      p.call(w1, 'spray', { prefix: 'a', count: 100_000, bytes: 100 }),
      p.call(w2, 'spray', { prefix: 'b', count: 100_000, bytes: 100 }),
    ]);
    const stats = await p.command<{ historyUsers: number; historyBytes: number; users: number }>('relayStats');
    expect(stats.historyUsers).toBeLessThanOrEqual(20_000);
    expect(stats.historyBytes).toBeLessThanOrEqual(maxBytes);
    expect(stats.users).toBe(0);
    const memory = await p.command<{ heapUsed: number }>('memory');
    expect(memory.heapUsed).toBeLessThan(48 * 1024 * 1024);
    expect(p.child.exitCode).toBeNull();
  }, 40_000);
});
