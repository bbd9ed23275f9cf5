import type { IncomingMessage } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { closePolicy, InMemoryBroker, InMemoryBus } from '../src/index.js';
import { type Fixture, startHub, type TestSocket, type User, waitFor } from './helpers.js';

let fixtures: Fixture[] = [];
afterEach(async () => {
  await Promise.all(fixtures.map((f) => f.close()));
  fixtures = [];
});

/** `?user=<id>&ttl=<ms>`: a session that expires `ttl` ms from now. Tokens for refresh are `<id>:<ttl>`. */
function expiringUser(req: IncomingMessage): User & { expiresAt?: number } {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const ttl = url.searchParams.get('ttl');
  return {
    id: url.searchParams.get('user')!,
    deviceFingerprint: url.searchParams.get('device') ?? 'd',
    ...(ttl ? { expiresAt: Date.now() + Number(ttl) } : {}),
  };
}

function fromToken(token: string): User & { expiresAt: number } {
  const [id, ttl] = token.split(':');
  if (!id || !ttl) throw new Error('bad token');
  return { id, deviceFingerprint: 'd', expiresAt: Date.now() + Number(ttl) };
}

async function hub(options: Parameters<typeof startHub>[0] = {}): Promise<Fixture> {
  const f = await startHub({ authenticate: expiringUser, ...options });
  fixtures.push(f);
  return f;
}

let ids = 0;
async function request(client: TestSocket, event: string, data: unknown): Promise<Record<string, unknown>> {
  const id = ++ids;
  client.send({ event, id, data });
  for (;;) {
    const m = await client.next();
    if (m.event === 'wshub:ack' && (m.data as { id?: number }).id === id) return m.data as Record<string, unknown>;
  }
}

async function v2(f: Fixture, query: string): Promise<TestSocket> {
  const client = f.connect(query, { protocols: ['wshub'] });
  expect((await client.next()).event).toBe('wshub:welcome');
  return client;
}

describe('sessions that expire', () => {
  it('a socket whose user has expiresAt closes with 4401 then, v1 and v2 alike; the client should reconnect with a fresh token', async () => {
    const f = await hub();
    const started = Date.now();
    const plain = await f.ready('user=bob&ttl=300&device=plain');
    const modern = await v2(f, 'user=bob&ttl=300&device=v2');
    const lasting = await f.ready('user=alice');
    const [a, b] = await Promise.all([plain.waitForClose(), modern.waitForClose()]);
    expect(a).toEqual({ code: 4401, reason: 'session expired' });
    expect(b.code).toBe(4401);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(closePolicy(4401)).toBe('reconnect');
    expect(lasting.closed).toBeUndefined();
  });

  it('an expiresAt already past closes at once', async () => {
    const f = await hub();
    const client = f.connect('user=bob&ttl=-1');
    expect((await client.waitForClose()).code).toBe(4401);
  });

  it('a v2 client is told ahead of time, with the expiry, when the hub can refresh', async () => {
    const f = await hub({ refresh: ({ token }) => fromToken(token), refreshAheadMs: 30_000 });
    const client = await v2(f, 'user=bob&ttl=400');
    const notice = await client.next();
    expect(notice).toEqual({ event: 'wshub:expiring', data: { expiresAt: expect.any(Number) } });
    // At most half the remaining life ahead: here about 200 ms before expiry, not 30 s.
    expect((notice.data as { expiresAt: number }).expiresAt - Date.now()).toBeGreaterThan(100);
  });
});

describe('refresh over the same socket', () => {
  it('keeps the socket, its watches and its deliveries past the old expiry; the user object is the new one', async () => {
    const f = await hub({ refresh: ({ token }) => fromToken(token) });
    const client = await v2(f, 'user=bob&ttl=300');
    expect(await request(client, 'watch', { event: 'order-status', payload: '42' })).toMatchObject({ status: 'allowed' });
    const ack = await request(client, 'wshub:refresh', { token: 'bob:60000' });
    expect(ack).toMatchObject({ op: 'refresh', status: 'refreshed', expiresAt: expect.any(Number) });
    await new Promise((resolve) => setTimeout(resolve, 400)); // past the first expiry
    expect(client.closed).toBeUndefined();
    await f.hub.sendMessage('bob', 'order-status', 'shipped', '42');
    // The notice of the first expiry was dropped with it: the next frame is the delivery.
    expect(await client.next()).toEqual({ event: 'order-status', data: 'shipped', scope: '42' });
    expect(f.hub.socketsOf('bob')[0]!.user).toMatchObject({ id: 'bob', expiresAt: (ack as { expiresAt: number }).expiresAt });
  });

  it.each([
    ['another user’s token', { refresh: ({ token }: { token: string }) => fromToken(token) }, 'alice:60000'],
    ['a hook that throws', { refresh: () => { throw new Error('revoked'); } }, 'bob:60000'],
    ['a hook that never settles', { refresh: () => new Promise<never>(() => {}), authTimeoutMs: 200 }, 'bob:60000'],
  ] as const)('%s: closed with 4403', async (_name, options, token) => {
    const f = await hub(options as never);
    const client = await v2(f, 'user=bob&ttl=60000');
    client.send({ event: 'wshub:refresh', id: 1, data: { token } });
    expect(await client.waitForClose()).toEqual({ code: 4403, reason: 'unauthorized' });
  });

  it('without a refresh hook the answer is unavailable and the session still ends at its expiry', async () => {
    const f = await hub();
    const client = await v2(f, 'user=bob&ttl=300');
    expect(await request(client, 'wshub:refresh', { token: 'bob:60000' })).toMatchObject({ status: 'unavailable' });
    expect((await client.waitForClose()).code).toBe(4401);
  });

  it('an invalid token is answered invalid, and the socket stays', async () => {
    const f = await hub({ refresh: ({ token }) => fromToken(token) });
    const client = await v2(f, 'user=bob');
    expect(await request(client, 'wshub:refresh', { token: '' })).toMatchObject({ status: 'invalid' });
    expect(client.closed).toBeUndefined();
  });

  it('a v1 client sending wshub:refresh is an app message: the hook is not called', async () => {
    let calls = 0;
    const f = await hub({
      refresh: ({ token }) => {
        calls++;
        return fromToken(token);
      },
    });
    const v1 = await f.ready('user=bob');
    const message = waitFor<{ event: string }>(f.hub, 'message');
    v1.send({ event: 'wshub:refresh', id: 1, data: { token: 'bob:60000' } });
    expect((await message).event).toBe('wshub:refresh');
    expect(calls).toBe(0);
  });
});

describe('refresh: what a client can make the hook do', () => {
  it('a flood of refresh frames runs the hook one at a time, and the message rate ends it with 4429', async () => {
    let running = 0;
    let most = 0;
    let calls = 0;
    const f = await hub({
      refresh: async ({ token }) => {
        calls++;
        running++;
        most = Math.max(most, running);
        await new Promise((resolve) => setTimeout(resolve, 5)); // an app's token check takes a little while
        running--;
        return fromToken(token);
      },
      limits: { messageRate: 10, messageBurst: 20 },
    });
    const client = await v2(f, 'user=bob');
    for (let i = 0; i < 200; i++) client.send({ event: 'wshub:refresh', id: i, data: { token: 'bob:60000' } });
    expect((await client.waitForClose()).code).toBe(4429);
    expect(most).toBe(1);
    expect(calls).toBeLessThanOrEqual(20);
  });
});

describe('limits.maxSocketsPerUser', () => {
  it('closes the oldest socket of the user with 4409 when one more is authorized', async () => {
    const f = await hub({ limits: { maxSocketsPerUser: 2 } });
    const first = await f.ready('user=bob&device=1');
    await f.ready('user=bob&device=2');
    await f.ready('user=alice&device=1');
    const replaced = waitFor(f.hub, 'disconnected', (d) => d.userId === 'bob');
    await f.ready('user=bob&device=3');
    expect(await replaced).toMatchObject({ deviceFingerprint: '1', code: 4409 });
    expect(await first.waitForClose()).toEqual({ code: 4409, reason: 'too many sockets for this user' });
    expect(closePolicy(4409)).toBe('stop');
    expect(f.hub.socketsOf('bob').map((s) => s.deviceFingerprint)).toEqual(['2', '3']);
  });
});

describe('log out everywhere', () => {
  it('hub.disconnect(userId) on any node closes every socket of the user on every node with 4000', async () => {
    const bus = new InMemoryBus();
    const a = await hub({ broker: new InMemoryBroker(bus) });
    const b = await hub({ broker: new InMemoryBroker(bus) });
    const phone = await a.ready('user=bob&device=phone');
    const laptop = await b.ready('user=bob&device=laptop');
    const other = await b.ready('user=alice');
    const gone = waitFor(b.hub, 'disconnected', (d) => d.userId === 'bob');
    await a.hub.disconnect('bob');
    await gone;
    expect((await phone.waitForClose()).code).toBe(4000);
    expect((await laptop.waitForClose()).code).toBe(4000);
    expect(other.closed).toBeUndefined();
  });
});
