/**
 * Receipts under attack, on a hub in a child process with a small heap
 * (`HEAP_LIMIT_MB`): forged confirmations are ignored and counted, pending
 * receipts stay within `maxPending`, the process lives and a control client
 * is still served.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { TestSocket } from '../helpers.js';
import { HubProcess } from './harness.js';

let hubs: HubProcess[] = [];
let sockets: TestSocket[] = [];

afterEach(async () => {
  for (const s of sockets) s.ws.terminate();
  sockets = [];
  await Promise.all(hubs.map((h) => h.stop()));
  hubs = [];
});

async function startHub(options: Record<string, unknown>): Promise<HubProcess> {
  const hub = await HubProcess.start({ options });
  hubs.push(hub);
  return hub;
}

async function v2(hub: HubProcess, user: string): Promise<TestSocket> {
  const socket = new TestSocket(hub.url(`user=${user}`), { protocols: ['wshub'] });
  sockets.push(socket);
  expect((await socket.next(5000)).event).toBe('wshub:welcome');
  return socket;
}

interface Stats {
  receiptsIgnored: number;
  receiptsPending: number;
  receiptsUndelivered: number;
  receiptsConfirmed: number;
}

describe('hostile: receipts (receipts.maxPending, forged confirmations)', () => {
  it('100,000 forged confirmations are ignored and counted; nothing is kept; the hub serves on', async () => {
    const hub = await startHub({ receipts: { undeliveredAfterMs: 60_000 }, limits: { messageRate: 0 } });
    const victim = await v2(hub, 'victim');
    const mallory = await v2(hub, 'mallory');
    await hub.call('send', { userId: 'victim', event: 'secret', data: 1 });
    const real = (await victim.next()).id as string;
    const before = await hub.retainedMb();
    for (let frame = 0; frame < 400; frame++) {
      const ids = Array.from({ length: 250 }, (_, i) => (i === 0 && frame === 0 ? real : `forged-${frame}-${i}-${'x'.repeat(40)}`));
      mallory.emit('wshub:confirm', { ids });
    }
    await mallory.request('unwatch', { event: 'wshub:sync' }, 20_000);
    const stats = await hub.call<Stats>('stats');
    expect(stats.receiptsIgnored).toBe(100_000);
    expect(stats.receiptsConfirmed).toBe(0);
    expect(stats.receiptsPending).toBe(1);
    expect(hub.alive).toBe(true);
    expect(await hub.retainedMb()).toBeLessThan(before + 4);
    // The victim's own confirmation still counts.
    victim.emit('wshub:confirm', { ids: [real] });
    await victim.request('unwatch', { event: 'wshub:sync' });
    expect((await hub.call<Stats>('stats')).receiptsConfirmed).toBe(1);
  }, 60_000);

  it('50,000 messages to users who are away: at most maxPending receipts are held, the oldest go undelivered', async () => {
    const hub = await startHub({ receipts: { undeliveredAfterMs: 60_000, maxPending: 10_000 } });
    const before = await hub.retainedMb();
    await hub.call('sendMany', { prefix: 'away-', count: 50_000, bytes: 40 });
    const stats = await hub.call<Stats>('stats');
    expect(stats.receiptsPending).toBe(10_000);
    expect(stats.receiptsUndelivered).toBe(40_000);
    expect(hub.alive).toBe(true);
    const held = (await hub.retainedMb()) - before;
    // What one pending receipt holds (its Map entries, key string and record), for docs/BENCHMARKS.md.
    process.stdout.write(`receipts: ${((held * 1024 * 1024) / 10_000).toFixed(0)} bytes per pending receipt (10,000 held, ${held.toFixed(1)} MB)\n`);
    expect(held).toBeLessThan(10);
  }, 60_000);
});
