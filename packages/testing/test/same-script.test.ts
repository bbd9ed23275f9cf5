import type { Hub, HubOptions, HubRequest } from '@wshub/core';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type CloseInfo,
  connectTestClient,
  FakeHub,
  type FakeSocket,
  type ReceivedMessage,
  type TestClient,
  type WatchResult,
} from '../src/index.js';
import { type RealHub, startRealHub } from './real-hub.js';

interface User {
  id: string;
  deviceFingerprint: string;
  role: 'admin' | 'user';
}

/** The same options for both hubs: a watch rule that reads the user, and a serializer. */
const rules = {
  authenticate(request: HubRequest): User {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const id = url.searchParams.get('user')!;
    return { id, deviceFingerprint: url.searchParams.get('device')!, role: id === 'alice' ? 'admin' : 'user' };
  },
  // Admins watch every order; users their own orders (`<user>-<n>`) and never all of them.
  canWatch: ({ user, event, payload }: { user: User; event: string; payload: string | null }) =>
    event !== 'order-status' || user.role === 'admin' || payload?.startsWith(`${user.id}-`) === true,
  // Fields starting with `_` never leave the server.
  serialize: (data: unknown) => JSON.parse(JSON.stringify(data, (key, value) => (key.startsWith('_') ? undefined : value))),
} satisfies HubOptions<User>;

/** What a script can do, on either hub; devices are named `<user>/<device>`. */
interface Driver {
  hub: Pick<Hub<User, any>, 'sendMessage' | 'push' | 'disconnect' | 'updateUser'>;
  connect(device: string): Promise<void>;
  watch(device: string, event: string, payload?: string | number): Promise<WatchResult>;
  unwatch(device: string, event: string, payload?: string | number): Promise<void>;
  leave(device: string): Promise<void>;
  /** Per device: what it received and how it closed, once everything in flight arrived. */
  outcome(): Promise<Record<string, { received: readonly ReceivedMessage[]; closed: CloseInfo | undefined }>>;
}

async function script(d: Driver): Promise<WatchResult[]> {
  const watches: WatchResult[] = [];
  for (const device of ['alice/laptop', 'bob/phone', 'bob/laptop', 'carol/phone']) await d.connect(device);
  watches.push(await d.watch('bob/phone', 'order-status', 'bob-1'));
  watches.push(await d.watch('bob/phone', 'order-status', 'alice-1'));
  watches.push(await d.watch('bob/laptop', 'order-status'));
  watches.push(await d.watch('alice/laptop', 'order-status'));
  watches.push(await d.watch('carol/phone', 'news'));
  await d.hub.sendMessage('bob', 'order-status', { id: 'bob-1', status: 'packed', _secret: 1 }, 'bob-1');
  await d.hub.sendMessage('bob', 'hello', 'hi');
  await d.hub.sendMessage('alice', 'order-status', { id: 'bob-1' }, 'bob-1');
  await d.hub.push('news', { text: 'only watchers' }, undefined, true);
  await d.hub.push('promo', (user) => ({ for: user.id }), (user) => user.role === 'user');
  await d.hub.push('plain', { n: 1 });
  await d.unwatch('bob/phone', 'order-status', 'bob-1');
  await d.hub.sendMessage('bob', 'order-status', { id: 'bob-1', status: 'shipped' }, 'bob-1');
  await d.hub.updateUser({ id: 'bob', deviceFingerprint: 'laptop', role: 'admin' });
  watches.push(await d.watch('bob/laptop', 'order-status'));
  await d.hub.sendMessage('bob', 'order-status', { id: 'bob-2' }, 'bob-2');
  await d.hub.disconnect('bob', 'phone');
  await d.leave('carol/phone');
  await d.hub.push('after', 42);
  return watches;
}

function query(device: string): { user: string; device: string } {
  const [user, name] = device.split('/') as [string, string];
  return { user, device: name };
}

function fakeDriver(hub: FakeHub<User>): Driver {
  const sockets = new Map<string, FakeSocket<User>>();
  const socket = (device: string) => sockets.get(device)!;
  return {
    hub,
    async connect(device) {
      sockets.set(device, await hub.connect({ query: query(device) }));
    },
    watch: (device, event, payload) => socket(device).watch(event, payload),
    unwatch: (device, event, payload) => socket(device).unwatch(event, payload),
    async leave(device) {
      socket(device).close(1000);
    },
    async outcome() {
      return Object.fromEntries([...sockets].map(([name, s]) => [name, { received: s.received, closed: s.closed }]));
    },
  };
}

function realDriver(real: RealHub<User>, clients: Map<string, TestClient>): Driver {
  const client = (device: string) => clients.get(device)!;
  return {
    hub: real.hub,
    async connect(device) {
      const c = await connectTestClient(real.url, { query: query(device) });
      clients.set(device, c);
      await c.sync(); // as the fake's connect, resolve once authorized
    },
    watch: (device, event, payload) => client(device).watch(event, payload),
    unwatch: (device, event, payload) => client(device).unwatch(event, payload),
    async leave(device) {
      await client(device).close(1000);
    },
    async outcome() {
      const entries = await Promise.all(
        [...clients].map(async ([name, c]) => {
          // A round trip proves every earlier delivery arrived; a socket the server closed just waits for its close.
          await c.sync().catch(() => c.waitForClose());
          return [name, { received: c.messages, closed: c.closed }] as const;
        }),
      );
      return Object.fromEntries(entries);
    },
  };
}

let fake: FakeHub<User> | undefined;
let real: RealHub<User> | undefined;
const clients = new Map<string, TestClient>();
afterEach(async () => {
  await Promise.all([...clients.values()].map((c) => c.close()));
  clients.clear();
  await fake?.close();
  await real?.close();
});

describe('FakeHub and WsHub give the same deliveries for the same script', () => {
  it('runs one script of connects, watches, sends, pushes and disconnects against both', async () => {
    fake = new FakeHub<User>(rules);
    const fakeDriverInstance = fakeDriver(fake);
    const fakeWatches = await script(fakeDriverInstance);
    const fakeOutcome = await fakeDriverInstance.outcome();

    real = await startRealHub<User>(rules);
    const realDriverInstance = realDriver(real, clients);
    const realWatches = await script(realDriverInstance);
    const realOutcome = await realDriverInstance.outcome();

    expect(fakeWatches).toEqual(realWatches);
    expect(fakeOutcome).toEqual(realOutcome);
    // The script is not vacuous: it exercised allow, forbid, filters and closes.
    expect(realWatches).toEqual(['allowed', 'forbidden', 'forbidden', 'allowed', 'allowed', 'allowed']);
    expect(realOutcome['bob/phone']).toEqual({
      // The answers to watches are the protocol's own (acks): taken by watch(), not listed.
      received: [
        { event: 'order-status', data: { id: 'bob-1', status: 'packed' } },
        { event: 'hello', data: 'hi' },
        { event: 'promo', data: { for: 'bob' } },
        { event: 'plain', data: { n: 1 } },
      ],
      closed: { code: 4000, reason: 'disconnected by server: do not reconnect' },
    });
    expect(realOutcome['carol/phone']?.received.map((m) => m.event)).toEqual(['news', 'promo', 'plain']);
    expect(realOutcome['bob/laptop']?.received.map((m) => m.event)).toEqual([
      'hello',
      'promo',
      'plain',
      'order-status',
      'after',
    ]);
  });

  it('records in fake.deliveries exactly what each socket received (the hub’s answers to watches are not deliveries)', async () => {
    fake = new FakeHub<User>(rules);
    const driver = fakeDriver(fake);
    await script(driver);
    const outcome = await driver.outcome();
    const sockets = new Map<string, string>();
    for (const name of Object.keys(outcome)) {
      const { user, device } = query(name);
      for (const d of fake.deliveries) if (d.userId === user && d.deviceFingerprint === device) sockets.set(d.socketId, name);
    }
    for (const [name, { received }] of Object.entries(outcome)) {
      const delivered = fake.deliveries.filter((d) => sockets.get(d.socketId) === name);
      expect(delivered.map(({ event, data }) => (data === undefined ? { event } : { event, data }))).toEqual(received);
    }
    expect(fake.deliveries.length).toBe(Object.values(outcome).reduce((n, o) => n + o.received.length, 0));
    expect(fake.deliveries.length).toBeGreaterThan(5);
  });
});
