import { afterEach, describe, expect, it } from 'vitest';
import type { Recovered } from '../../src/index.js';
import { Clients } from '../support/clients.js';
import { TestHub } from '../support/hub.js';
import { hubEvent, inState, nextEvent } from '../support/wait.js';

const clients = new Clients();
const hubs: TestHub[] = [];

async function startHub(options: Parameters<typeof TestHub.start>[0] = {}): Promise<TestHub> {
  const hub = await TestHub.start(options);
  hubs.push(hub);
  return hub;
}

afterEach(async () => {
  await clients.closeAll();
  await Promise.all(hubs.splice(0).map((h) => h.stop()));
});

/** Every 'order-status' and 'announcement' the client's handlers got, in order, and its 'recovered' events. */
function record(client: ReturnType<Clients['create']>) {
  const log: string[] = [];
  client.on('order-status', ({ orderId, status }) => log.push(`order ${orderId} ${status}`));
  client.on('announcement', ({ text }) => log.push(`announcement ${text}`));
  client.on('recovered', ({ recovered, missed }: Recovered) => log.push(`recovered ${recovered} ${missed}`));
  return log;
}

/** Drops bob's connection from the server side, as a network failure would, and waits until the hub saw it. */
async function drop(test: TestHub): Promise<void> {
  const gone = hubEvent(test.hub, 'disconnected', (e) => e.userId === 'bob');
  for (const socket of test.hub.socketsOf('bob')) socket.terminate();
  await gone;
}

describe('message recovery across a reconnect', () => {
  it('hands the handlers what was sent while away, in order and once, then recovered, then newer messages', async () => {
    const test = await startHub({ recovery: true });
    const client = clients.create(test.url);
    const log = record(client);
    const subscription = client.watch('order-status', 42);
    client.watch('announcement');
    await inState(client, 'open');
    expect(await subscription.whenConfirmed()).toBe(true);
    await test.hub.sendMessage('bob', 'order-status', { orderId: 42, status: 'packed' }, 42);
    await nextEvent(client, 'order-status');

    const back = hubEvent(test.hub, 'ready', (e) => e.user.id === 'bob');
    await drop(test);
    await test.hub.sendMessage('bob', 'order-status', { orderId: 42, status: 'shipped' }, 42);
    await test.hub.sendMessage('bob', 'order-status', { orderId: 43, status: 'lost' }, 43); // not watched
    await test.hub.push('announcement', { text: 'maintenance' });
    const recovered = nextEvent(client, 'recovered');
    await back;
    expect(await recovered).toEqual({ recovered: true, missed: 2 });
    await test.hub.sendMessage('bob', 'order-status', { orderId: 42, status: 'delivered' }, 42);
    await nextEvent(client, 'order-status');
    expect(log).toEqual([
      'order 42 packed',
      'order 42 shipped',
      'announcement maintenance',
      'recovered true 2',
      'order 42 delivered',
    ]);
  });

  it('says recovered: false when the history cannot cover the gap (a restarted server), and goes on', async () => {
    const test = await startHub({ recovery: true });
    const client = clients.create(test.url);
    const log = record(client);
    client.watch('announcement');
    await inState(client, 'open');
    await test.hub.push('announcement', { text: 'one' });
    await nextEvent(client, 'announcement');
    const recovered = nextEvent(client, 'recovered');
    await test.restart(); // a new hub: a new history, a new epoch
    expect(await recovered).toEqual({ recovered: false, missed: 0 });
    await test.hub.push('announcement', { text: 'two' });
    await nextEvent(client, 'announcement');
    expect(log).toEqual(['announcement one', 'recovered false 0', 'announcement two']);
  });

  it('with recover: false nothing is resumed; without recovery on the server no recovered event', async () => {
    const test = await startHub({ recovery: true });
    const off = clients.create(test.url, { recover: false });
    const events: unknown[] = [];
    off.on('recovered', (r) => events.push(r));
    await inState(off, 'open');
    const plainHub = await startHub();
    const plain = clients.create(plainHub.url);
    plain.on('recovered', (r) => events.push(r));
    await inState(plain, 'open');
    const backPlain = hubEvent(plainHub.hub, 'ready', (e) => e.user.id === 'bob');
    const backOff = hubEvent(test.hub, 'ready', (e) => e.user.id === 'bob');
    for (const socket of [...test.hub.socketsOf('bob'), ...plainHub.hub.socketsOf('bob')]) socket.terminate();
    await Promise.all([backPlain, backOff]);
    await Promise.all([inState(off, 'open'), inState(plain, 'open')]);
    expect(events).toEqual([]);
    expect(test.hub.stats()).toMatchObject({ resumed: 0, resumeFailed: 0 });
  });

  it('a server restarting for a deploy (1012) is reconnected to at once, without waiting out a backoff', async () => {
    const test = await startHub({ recovery: true });
    const client = clients.create(test.url, { reconnect: { initialDelayMs: 50, maxDelayMs: 60_000 } });
    await inState(client, 'open');
    const closed = nextEvent(client, 'close');
    void test.hub.close({ drainMs: 10 });
    const info = await closed;
    expect(info.code).toBe(1012);
    expect(info.retryInMs).toBeLessThanOrEqual(50);
  });
});
