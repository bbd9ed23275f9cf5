import { afterEach, describe, expect, it } from 'vitest';
import type { ConnectionState } from '../../src/index.js';
import { Clients } from '../support/clients.js';
import { TestHub } from '../support/hub.js';
import { hubEvent, inState, nextEvent, nextState, synced } from '../support/wait.js';

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

function watching(test: TestHub, userId: string): Record<string, (string | null)[]>[] {
  return test.hub
    .socketsOf(userId)
    .map((s) => Object.fromEntries([...s.watching].map(([event, scopes]) => [event, [...scopes]])));
}

describe('re-watch after the server drops the connection', () => {
  it('sends every active watch again and receives the next update', async () => {
    const test = await startHub();
    const client = clients.create(test.url);
    client.watch('order-status', 42);
    client.watch('announcement');
    client.watch('order-status', 7).unwatch();
    await inState(client, 'open');
    await synced(client, test.hub);
    expect(watching(test, 'bob')).toEqual([{ 'order-status': ['42'], announcement: [null] }]);

    const dropped = hubEvent(test.hub, 'disconnected', (e) => e.userId === 'bob');
    const states: ConnectionState[] = [];
    client.on('state', (s) => states.push(s));
    const reopened = nextState(client, 'open');
    const [socket] = test.hub.socketsOf('bob');
    socket?.terminate();
    expect((await dropped).code).toBe(1006);
    await reopened;
    await synced(client, test.hub);

    expect(states).toEqual(['reconnecting', 'open']);
    expect(watching(test, 'bob')).toEqual([{ 'order-status': ['42'], announcement: [null] }]);
    const update = nextEvent(client, 'order-status');
    await test.hub.sendMessage('bob', 'order-status', { orderId: 42, status: 'shipped' }, 42);
    expect(await update).toEqual({ orderId: 42, status: 'shipped' });
  });

  it('keeps watches across a server restart on the same port, with a fresh token each time', async () => {
    const test = await startHub();
    const tokens: string[] = [];
    const client = clients.create(test.url, {
      token: () => {
        tokens.push('bob-token');
        return 'bob-token';
      },
    });
    client.watch('order-status', '42');
    await inState(client, 'open');
    await synced(client, test.hub);

    const closes: { code: number; retryInMs: number | null }[] = [];
    client.on('close', ({ code, retryInMs }) => closes.push({ code, retryInMs }));
    const reopened = nextState(client, 'open');
    await test.restart();
    await reopened;
    await synced(client, test.hub);

    expect(closes[0]?.code).toBe(1001);
    expect(closes.every((c) => c.retryInMs !== null)).toBe(true);
    expect(tokens.length).toBe(closes.length + 1);
    const update = nextEvent(client, 'order-status');
    await test.hub.sendMessage('bob', 'order-status', { orderId: 42, status: 'delivered' }, '42');
    expect(await update).toEqual({ orderId: 42, status: 'delivered' });
  });

  it('does not receive updates for a scope it unwatched, before or after reconnecting', async () => {
    const test = await startHub();
    const client = clients.create(test.url);
    const sub = client.watch('order-status', 1);
    client.watch('order-status', 2);
    await inState(client, 'open');
    sub.unwatch();
    await synced(client, test.hub);
    const reopened = nextState(client, 'open');
    test.hub.socketsOf('bob')[0]?.terminate();
    await reopened;
    await synced(client, test.hub);

    const received: unknown[] = [];
    client.on('order-status', (data) => received.push(data));
    await test.hub.sendMessage('bob', 'order-status', { orderId: 1, status: 'x' }, 1);
    await test.hub.sendMessage('bob', 'order-status', { orderId: 2, status: 'y' }, 2);
    await nextEvent(client, 'order-status');
    expect(received).toEqual([{ orderId: 2, status: 'y' }]);
  });
});
