import { afterEach, describe, expect, it } from 'vitest';
import { decodeEnvelope } from '../src/brokers/cluster-broker.js';
import { type Broker, type HubError, InMemoryBroker, InMemoryBus } from '../src/index.js';
import { type Fixture, startHub, type TestSocket, type User, waitFor } from './helpers.js';

/** Three hubs linked by one in-memory bus: the broker seam without a network. */
let nodes: Fixture[] = [];
let bus: InMemoryBus;
afterEach(async () => {
  await Promise.all(nodes.map((n) => n.close()));
  nodes = [];
});

async function cluster(n = 3) {
  bus = new InMemoryBus();
  for (let i = 0; i < n; i++) nodes.push(await startHub({ broker: new InMemoryBroker(bus) }));
  return nodes;
}

/** What `client` received before a marker sent from `origin`: per-user order holds for one origin node. */
async function received(client: TestSocket, origin: Fixture, user: string): Promise<string[]> {
  await origin.hub.sendMessage(user, '__end__', null);
  const got: string[] = [];
  for (;;) {
    const m = await client.next();
    if (m.event === '__end__') return got;
    got.push(`${m.event}:${JSON.stringify(m.data)}`);
  }
}

describe('cluster: sendMessage reaches a user on every node, once per socket', () => {
  it('from a node that holds none of the user\'s sockets', async () => {
    const [a, b, c] = await cluster();
    const phone = await a!.ready('user=u1&device=phone');
    const laptop = await b!.ready('user=u1&device=laptop');
    await c!.hub.sendMessage('u1', 'notification', { text: 'hi' });
    expect(await phone.next()).toEqual({ event: 'notification', data: { text: 'hi' } });
    expect(await laptop.next()).toEqual({ event: 'notification', data: { text: 'hi' } });
    // Exactly one copy per socket, also on the sending node.
    await a!.hub.sendMessage('u1', 'again', 1);
    expect(await received(phone, a!, 'u1')).toEqual(['again:1']);
    expect(await received(laptop, a!, 'u1')).toEqual(['again:1']);
  });

  it('routes per user: a node that holds none of the user\'s sockets receives nothing for them', async () => {
    const [a, b, c] = await cluster();
    const client = await a!.ready('user=u1');
    await b!.ready('user=u2');
    const before = c!.hub.stats().broker.received;
    await b!.hub.sendMessage('u1', 'e', 1);
    expect(await client.next()).toEqual({ event: 'e', data: 1 });
    await new Promise((r) => setImmediate(r));
    expect(c!.hub.stats().broker.received).toBe(before);
    expect(a!.hub.stats().broker.received).toBeGreaterThan(0);
    expect(bus.subscribers('wshub:user:u1')).toBe(1);
  });

  it('applies the watch filter on the node that holds the socket', async () => {
    const [a, b] = await cluster(2);
    const scoped = await a!.ready('user=u1&device=scoped');
    const plain = await b!.ready('user=u1&device=plain');
    scoped.watch('order-status', 42);
    await expect.poll(() => a!.hub.socketsOf('u1')[0]!.watching.size).toBe(1);
    await b!.hub.sendMessage('u1', 'order-status', { id: 42 }, 42);
    expect(await received(scoped, b!, 'u1')).toEqual(['order-status:{"id":42}']);
    expect(await received(plain, b!, 'u1')).toEqual([]);
  });
});

describe('cluster: push', () => {
  it('plain data is one broadcast applied by each node to its own users', async () => {
    const [a, b, c] = await cluster();
    const clients = [await a!.ready('user=u1'), await b!.ready('user=u2'), await c!.ready('user=u3')];
    const published = bus.published;
    await b!.hub.push('server-update', { version: '2.0.0' });
    for (const client of clients) expect(await client.next()).toEqual({ event: 'server-update', data: { version: '2.0.0' } });
    expect(bus.published - published).toBe(1);
  });

  it('callbacks run once per user on the pushing node, for users on every node, with plain users', async () => {
    const [a, b, c] = await cluster();
    const admin = await a!.ready('user=admin&role=admin');
    const adminLaptop = await b!.ready('user=admin&device=laptop&role=admin');
    const user = await c!.ready('user=bob');
    const seen: string[] = [];
    await b!.hub.push(
      'admin-alert',
      (u: User) => ({ hello: u.id }),
      (u: User) => {
        seen.push(u.id);
        return u.role === 'admin';
      },
    );
    expect(seen.sort()).toEqual(['admin', 'bob']);
    expect(await admin.next()).toEqual({ event: 'admin-alert', data: { hello: 'admin' } });
    expect(await adminLaptop.next()).toEqual({ event: 'admin-alert', data: { hello: 'admin' } });
    expect(await received(user, b!, 'bob')).toEqual([]);
    expect(await received(admin, b!, 'admin')).toEqual([]);
  });
});

describe('cluster: disconnect and updateUser', () => {
  it('disconnect on one node closes the user\'s sockets on the others', async () => {
    const [a, b, c] = await cluster();
    const phone = await a!.ready('user=u1&device=phone');
    const laptop = await b!.ready('user=u1&device=laptop');
    await c!.hub.disconnect('u1', 'laptop');
    expect((await laptop.waitForClose()).code).toBe(4000);
    expect(phone.closed).toBeUndefined();
    await c!.hub.disconnect('u1');
    expect((await phone.waitForClose()).code).toBe(4000);
  });

  it('updateUser replaces the user on every node', async () => {
    const [a, b] = await cluster(2);
    await a!.ready('user=u1&device=phone');
    await b!.hub.updateUser({ id: 'u1', deviceFingerprint: 'phone', role: 'admin' });
    await expect.poll(() => a!.hub.socketsOf('u1')[0]!.user.role).toBe('admin');
    expect((await a!.hub.socketsOf('u1'))[0]!.deviceFingerprint).toBe('phone');
  });
});

describe('cluster: a refresh that changes the claims', () => {
  it('updates the user on every node, as updateUser does: an admin-only push from another node no longer reaches them', async () => {
    bus = new InMemoryBus();
    // The token names the role the refreshed session has.
    const refresh = ({ token, user }: { token: string; user: User }) => ({ ...user, role: token });
    for (let i = 0; i < 2; i++) nodes.push(await startHub({ broker: new InMemoryBroker(bus), refresh }));
    const [a, b] = nodes;
    const phone = a!.connect('user=ann&device=phone&role=admin', { protocols: ['wshub'] });
    expect((await phone.next()).event).toBe('wshub:welcome');
    const laptop = await b!.ready('user=ann&device=laptop&role=admin');
    const boss = await a!.ready('user=boss&role=admin');
    const adminOnly = (u: User) => u.role === 'admin';

    phone.send({ event: 'wshub:refresh', id: 1, data: { token: 'user' } });
    expect(await phone.next()).toEqual({ event: 'wshub:ack', data: { id: 1, op: 'refresh', status: 'refreshed' } });
    await expect.poll(() => b!.hub.socketsOf('ann')[0]!.user.role).toBe('user');

    await b!.hub.push('admin-alert', { level: 'high' }, adminOnly);
    expect(await boss.next()).toEqual({ event: 'admin-alert', data: { level: 'high' } });
    expect(await received(phone, b!, 'ann')).toEqual([]);
    expect(await received(laptop, b!, 'ann')).toEqual([]);
    // The same from the node that holds the refreshed socket.
    await a!.hub.push('admin-alert', { level: 'low' }, adminOnly);
    expect(await received(phone, a!, 'ann')).toEqual([]);
    expect(a!.hub.socketsOf('ann')[0]!.deviceFingerprint).toBe('phone');
  });
});

describe('cluster: presence', () => {
  it('onlineUsers and isOnline are cluster-wide', async () => {
    const [a, b] = await cluster(2);
    const c1 = await a!.ready('user=u1');
    await b!.ready('user=u2');
    expect((await a!.hub.onlineUsers()).sort()).toEqual(['u1', 'u2']);
    expect(await b!.hub.isOnline('u1')).toBe(true);
    const gone = waitFor(a!.hub, 'disconnected');
    c1.ws.close();
    await gone;
    expect(await b!.hub.isOnline('u1')).toBe(false);
    expect(await b!.hub.onlineUsers()).toEqual(['u2']);
  });

  it("'presence' fires once in the whole cluster: on the first socket anywhere and when the last one anywhere closes", async () => {
    const [a, b, c] = await cluster(3);
    const seen: string[] = [];
    for (const [name, node] of [['a', a!], ['b', b!], ['c', c!]] as const) {
      node.hub.on('presence', ({ userId, online }) => seen.push(`${name}:${userId}:${online ? 'online' : 'offline'}`));
    }
    const phone = await a!.ready('user=u1&device=phone');
    const laptop = await b!.ready('user=u1&device=laptop');
    expect(seen).toEqual(['a:u1:online']);
    let gone = waitFor(a!.hub, 'disconnected');
    phone.ws.close();
    await gone;
    expect(seen).toEqual(['a:u1:online']);
    gone = waitFor(b!.hub, 'disconnected');
    laptop.ws.close();
    await gone;
    expect(seen).toEqual(['a:u1:online', 'b:u1:offline']);
  });
});

describe('cluster: what arrives on a channel is checked', () => {
  it.each([
    ['not JSON', 'garbage'],
    ['no origin', JSON.stringify({ e: { kind: 'push', event: 'x', filter: null, message: '{}' } })],
    ['an unknown kind', JSON.stringify({ o: 'x', e: { kind: 'explode' } })],
    ['a send without userId', JSON.stringify({ o: 'x', e: { kind: 'send', event: 'e', filter: null, message: '{}' } })],
  ])('%s is ignored, counted and reported, never thrown', async (_name, data) => {
    const [a] = await cluster(1);
    const client = await a!.ready('user=u1');
    const error = waitFor<Error>(a!.hub, 'error');
    bus.publish('wshub:all', data);
    expect((await error).message).toContain('malformed');
    expect(a!.hub.stats().broker.ignored).toBe(1);
    await a!.hub.sendMessage('u1', 'ok', 1);
    expect(await client.next()).toEqual({ event: 'ok', data: 1 });
    expect(decodeEnvelope(data)).toBeUndefined();
  });
});

describe('cluster: a flood of garbage is counted, not turned into a flood of errors', () => {
  it('reports the first malformed message, then at most one report per interval', async () => {
    const [a] = await cluster(1);
    const errors: Error[] = [];
    a!.hub.on('error', (e) => errors.push(e));
    for (let i = 0; i < 50; i++) bus.publish('wshub:all', `garbage ${i}`);
    await expect.poll(() => a!.hub.stats().broker.ignored).toBe(50);
    expect(errors).toHaveLength(1);
  });
});

describe('cluster: a failing broker never breaks local delivery', () => {
  it('reports every broker failure through error; local sockets keep working', async () => {
    const fail = () => {
      throw new Error('broker down');
    };
    const broken: Broker = {
      distributed: true,
      attach: () => {},
      publishToUser: fail,
      publishToAll: fail,
      userJoined: fail,
      userUpdated: fail,
      userLeft: fail,
      users: async () => fail(),
      onlineUsers: async () => fail(),
      isOnline: async () => fail(),
      stats: () => ({}),
      close: async () => fail(),
    };
    const node = await startHub({ broker: broken });
    nodes.push(node);
    const errors: HubError[] = [];
    node.hub.on('error', (e) => errors.push(e));
    const client = await node.ready('user=u1&role=admin');
    await node.hub.sendMessage('u1', 'a', 1);
    await node.hub.push('b', 2);
    await node.hub.push('c', (u: User) => u.role, () => true);
    await node.hub.updateUser({ id: 'u1', deviceFingerprint: 'device-1', role: 'admin' });
    await node.hub.disconnect('nobody');
    expect([await client.next(), await client.next(), await client.next()]).toEqual([
      { event: 'a', data: 1 },
      { event: 'b', data: 2 },
      { event: 'c', data: 'admin' },
    ]);
    await expect(node.hub.onlineUsers()).rejects.toThrow('broker down');
    expect(errors.length).toBeGreaterThanOrEqual(6);
    expect(errors.every((e) => e.source === 'broker' && e.message.includes('broker down'))).toBe(true);
  });
});
