/**
 * Same-worker sends without the primary: a worker that holds a user alone
 * delivers to it with no IPC at all; a second worker's first socket of the
 * user is 'ready' only once the first worker knows it is no longer alone.
 * Real node:cluster (test/worker/primary.mjs), real sockets; the primary
 * counts the brokers' IPC messages itself.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { TestSocket } from './helpers.js';
import { Primary } from './worker/driver.js';

const primaries: Primary[] = [];
afterEach(async () => {
  await Promise.all(primaries.splice(0).map((p) => p.stop()));
});

async function start(workers: number): Promise<{ primary: Primary; ids: number[] }> {
  const primary = new Primary({ env: { WSHUB_RECEIPTS: 'off' } });
  primaries.push(primary);
  const ids: number[] = [];
  for (let i = 0; i < workers; i++) ids.push(await primary.fork());
  return { primary, ids };
}

/** The broker IPC messages worker `w` has sent to the primary. */
async function ipcOf(primary: Primary, w: number): Promise<number> {
  return (await primary.command<Record<string, number>>('ipcCount'))[w] ?? 0;
}

async function brokerStats(primary: Primary, w: number): Promise<Record<string, number>> {
  return (await primary.call<{ broker: Record<string, number> }>(w, 'stats')).broker;
}

/** The `data` of the next `count` messages of `event` on `socket`. */
async function collect(socket: TestSocket, event: string, count: number): Promise<number[]> {
  const out: number[] = [];
  while (out.length < count) {
    const m = await socket.next(5000);
    if (m.event === event) out.push(m.data as number);
  }
  return out;
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

/**
 * `from` streams to `userId` while a socket of the user opens on `to`:
 * every message sent after that socket's 'ready' (on the machine's
 * monotonic clock) reaches it, in order, with none missing after the first
 * it got.
 */
async function joinWhileStreaming(primary: Primary, from: number, to: number, userId: string, first: TestSocket) {
  const streaming = primary.call<number>(from, 'streamTimed', { userId, ms: 15_000 });
  expect((await first.next(5000)).event).toBe('tick');
  const { socket: second } = await primary.connectOn(to, `user=${userId}&device=late`);
  await new Promise((resolve) => setTimeout(resolve, 200));
  await primary.call(from, 'stopStream');
  const sent = await streaming;
  const after = await primary.call<number>(from, 'sentAfter', { at: await primary.call<string>(to, 'readyAt', { userId }) });
  expect(after).toBeLessThan(sent);
  const got: number[] = [];
  while (got.at(-1) !== sent - 1) {
    const m = await second.next(5000);
    if (m.event === 'tick') got.push(m.data as number);
  }
  expect(got[0]!).toBeLessThanOrEqual(after);
  expect(got).toEqual(range(got[0]!, sent));
  return { sent, second };
}

describe('WorkerBroker: a user held by one worker alone costs no IPC', () => {
  it('a sendMessage to a user whose every socket is on the sending worker sends nothing to the primary', async () => {
    const { primary } = await start(2);
    const { socket, worker } = await primary.connect('user=solo');
    await primary.call(worker, 'onlineUsers');
    const before = await ipcOf(primary, worker);
    await primary.call(worker, 'sendMany', { userId: 'solo', count: 200 });
    expect(await collect(socket, 'n', 200)).toEqual(range(0, 200));
    await primary.call(worker, 'stats');
    expect(await ipcOf(primary, worker)).toBe(before);
    expect((await brokerStats(primary, worker)).local).toBe(200);
    expect(await primary.command('relayStats')).toMatchObject({ relayed: 0, users: 1 });
  }, 20_000);

  it("a second worker's socket opening while the first streams gets every message sent after its 'ready'", async () => {
    const { primary, ids } = await start(2);
    const { socket: first, worker: a } = await primary.connect('user=pat&device=first');
    const b = ids.find((w) => w !== a)!;
    let next = 0;
    // Three times over: each time the second socket closes, a holds pat alone again, and the race starts anew.
    for (let round = 0; round < 3; round++) {
      const { sent, second } = await joinWhileStreaming(primary, a, b, 'pat', first);
      // The first socket got every message, in order.
      expect(await collect(first, 'tick', sent - 1)).toEqual(range(1, sent));
      second.ws.close();
      await second.waitForClose();
      await primary.call(b, 'onlineUsers');
      await primary.call(a, 'onlineUsers');
      const local = (await brokerStats(primary, a)).local ?? 0;
      // Until the second socket came, a sent without IPC; the rest went through the relay.
      expect(local).toBeGreaterThan(next);
      expect(local).toBeLessThan(next + sent);
      next = local;
    }
    expect(primary.errors).toEqual([]);
  }, 40_000);

  it("a holder that cannot answer holds the new socket's 'ready'; once it died, the socket is ready at once", async () => {
    const { primary, ids } = await start(2);
    const { worker: a } = await primary.connect('user=lee&device=first');
    const b = ids.find((w) => w !== a)!;
    await primary.call(a, 'onlineUsers');
    await primary.command('stop', { worker: a });
    // Connections take turns between the workers: of two, one lands on b, which claims lee and waits for a.
    const tries = [0, 1].map(() => new TestSocket(`ws://127.0.0.1:${primary.port}/api/v1/ws?user=lee&device=second`));
    primary.sockets.push(...tries);
    // The first hello of either (the one on a never comes: a is stopped, then killed).
    const hello = new Promise((resolve) => {
      for (const s of tries) s.next(8000).then(resolve, () => {});
    });
    const early = await Promise.race([hello, new Promise((resolve) => setTimeout(() => resolve('none'), 500))]);
    expect(early).toBe('none');
    await primary.command('kill', { worker: a });
    expect(await hello).toEqual({ event: 'hello', data: { worker: b } });
    expect(await primary.call(b, 'onlineUsers')).toEqual(['lee']);
  }, 20_000);

  it('a killed worker leaves its users alone on the survivor (no IPC); a re-forked worker joins them while the survivor streams', async () => {
    const { primary } = await start(2);
    const { socket: kept, worker: a } = await primary.connect('user=kim&device=kept');
    const b = a === 1 ? 2 : 1;
    const { socket: doomed } = await primary.connectOn(b, 'user=kim&device=doomed');
    // Shared: a's messages go through the relay to b.
    await primary.call(a, 'sendMany', { userId: 'kim', count: 10 });
    expect(await collect(doomed, 'n', 10)).toEqual(range(0, 10));
    expect(await collect(kept, 'n', 10)).toEqual(range(0, 10));
    expect((await brokerStats(primary, a)).local).toBe(0);

    await primary.command('kill', { worker: b });
    await doomed.waitForClose();
    // A round trip through the relay: a has read what the relay said when b exited.
    await primary.call(a, 'onlineUsers');
    const before = await ipcOf(primary, a);
    await primary.call(a, 'sendMany', { userId: 'kim', count: 50 });
    expect(await collect(kept, 'n', 50)).toEqual(range(0, 50));
    await primary.call(a, 'stats');
    expect(await ipcOf(primary, a)).toBe(before);
    expect((await brokerStats(primary, a)).local).toBe(50);

    const c = await primary.fork();
    await joinWhileStreaming(primary, a, c, 'kim', kept);
    expect(await primary.call(c, 'onlineUsers')).toEqual(['kim']);
    expect(await primary.command('relayStats')).toMatchObject({ workers: 2, users: 1 });
    expect(primary.errors).toEqual([]);
  }, 30_000);
});
