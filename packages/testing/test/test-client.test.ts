import type { HubRequest } from '@wshub/core';
import { afterEach, describe, expect, it } from 'vitest';
import { ConnectionRefusedError, connectTestClient, FakeHub, SocketClosedError, type TestClient } from '../src/index.js';
import { type RealHub, startRealHub } from './real-hub.js';

interface User {
  id: string;
  deviceFingerprint: string;
}

function authenticate(request: HubRequest): User | Promise<User> {
  const url = new URL(request.url ?? '/', 'http://localhost');
  const id = url.searchParams.get('user') ?? request.headers['x-user'];
  if (id === 'slow') return new Promise(() => {});
  if (typeof id !== 'string' || id === 'bad') throw new Error('refused');
  return { id, deviceFingerprint: url.searchParams.get('device') ?? 'd1' };
}

let real: RealHub<User>;
const clients: TestClient[] = [];
async function connect(options: Parameters<typeof connectTestClient>[1]): Promise<TestClient> {
  const client = await connectTestClient(real.url, options);
  clients.push(client);
  return client;
}

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await real?.close();
});

describe('connectTestClient opens a real socket with query, headers and protocols', () => {
  it('passes query and headers to authenticate; sync() proves the socket is authorized', async () => {
    real = await startRealHub<User>({ authenticate });
    const byQuery = await connect({ query: { user: 'bob' }, protocols: ['wshub', 'token'] });
    const byHeader = await connect({ headers: { 'x-user': 'alice' } });
    await Promise.all([byQuery.sync(), byHeader.sync()]);
    expect(real.hub.connectedUsers().sort()).toEqual(['alice', 'bob']);
    expect(byQuery.protocol).toBe('wshub');
    expect(byQuery.messages).toEqual([]);
  });

  it('a refused socket closes with 4403; sync() rejects naming the code', async () => {
    real = await startRealHub<User>({ authenticate });
    const client = await connect({ query: { user: 'bad' } });
    await expect(client.sync()).rejects.toThrow('closed with 4403 (unauthorized)');
    expect(await client.waitForClose()).toEqual({ code: 4403, reason: 'unauthorized' });
  });

  it('a refusal rejects sync() with the ConnectionRefusedError FakeHub.connect() rejects with: same class, code and reason', async () => {
    real = await startRealHub<User>({ authenticate });
    const client = await connect({ query: { user: 'bad' } });
    const overSocket = client.sync();
    await expect(overSocket).rejects.toBeInstanceOf(ConnectionRefusedError);
    await expect(overSocket).rejects.toMatchObject({ name: 'ConnectionRefusedError', code: 4403, reason: 'unauthorized' });
    await using fake = new FakeHub<User>({ authenticate });
    const inMemory = fake.connect({ query: { user: 'bad' } });
    await expect(inMemory).rejects.toBeInstanceOf(ConnectionRefusedError);
    await expect(inMemory).rejects.toMatchObject({ name: 'ConnectionRefusedError', code: 4403, reason: 'unauthorized' });
    // Once closed, every later call says the same.
    await expect(client.sync()).rejects.toMatchObject({ code: 4403 });
    await expect(client.watch('order-status')).rejects.toBeInstanceOf(ConnectionRefusedError);
  });

  it('an authentication timeout rejects sync() with ConnectionRefusedError 4408', async () => {
    real = await startRealHub<User>({ authenticate, authTimeoutMs: 50 });
    const client = await connect({ query: { user: 'slow' } });
    await expect(client.sync()).rejects.toMatchObject({ name: 'ConnectionRefusedError', code: 4408 });
  });

  it('any other close rejects with SocketClosedError, carrying the code too', async () => {
    real = await startRealHub<User>({ authenticate });
    const client = await connect({ query: { user: 'bob' } });
    await client.sync();
    await real.hub.disconnect('bob');
    await client.waitForClose();
    const error = await client.sync().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SocketClosedError);
    expect(error).not.toBeInstanceOf(ConnectionRefusedError);
    expect(error).toMatchObject({ name: 'SocketClosedError', code: 4000 });
    await expect(client.unwatch('order-status')).rejects.toMatchObject({ code: 4000 });
  });

  it('rejects when the server answers the upgrade with an HTTP status', async () => {
    real = await startRealHub<User>({ authenticate, allowedOrigins: ['https://app.example'] });
    await expect(connect({ headers: { Origin: 'https://evil.example' } })).rejects.toThrow(
      /could not connect to ws:\/\/127\.0\.0\.1:\d+\/api\/v1\/ws: the server answered the upgrade with HTTP 403/,
    );
  });

  it('await using closes the socket at the end of the scope', async () => {
    real = await startRealHub<User>({ authenticate });
    let escaped: TestClient;
    {
      await using client = await connectTestClient(real.url, { query: { user: 'bob' } });
      await client.sync();
      escaped = client;
    }
    expect(escaped.closed).toEqual({ code: 1000, reason: '' });
  });
});

describe('watch resolves to what the hub decided', () => {
  it('allowed, forbidden, or rejected with the hub’s sentence', async () => {
    real = await startRealHub<User>({ authenticate, canWatch: ({ payload }) => payload !== 'secret' });
    const client = await connect({ query: { user: 'bob' } });
    expect(await client.watch('order-status', 42)).toBe('allowed');
    expect(await client.watch('order-status', 'secret')).toBe('forbidden');
    await expect(client.watch('x'.repeat(201))).rejects.toThrow('was rejected: watch "data.event" must be a string');
    // The answers are the protocol's own (acks): taken by watch(), never listed as messages.
    expect(client.messages).toEqual([]);
    expect([...real.hub.socketsOf('bob')[0]!.watching.get('order-status')!]).toEqual(['42']);
  });

  it('a plain client (protocols: []) sees the frames of @kovalenko/nestjs-websocket, and watch() says it needs v2', async () => {
    real = await startRealHub<User>({ authenticate, canWatch: ({ payload }) => payload !== 'secret' });
    const client = await connect({ query: { user: 'bob' }, protocols: [] });
    expect(client.protocol).toBe('');
    await expect(client.watch('order-status', 'secret')).rejects.toThrow(/only protocol v2 gives/);
    client.emit('watch', { event: 'order-status', payload: 'secret' });
    expect(await client.next()).toEqual({ event: 'watch', data: { event: 'order-status', payload: 'secret', forbidden: true } });
  });

  it('watches sent before authentication settles are applied after it', async () => {
    let admit!: () => void;
    const gate = new Promise<void>((resolve) => {
      admit = resolve;
    });
    real = await startRealHub<User>({
      authenticate: async () => {
        await gate;
        return { id: 'bob', deviceFingerprint: 'd1' };
      },
    });
    const client = await connect({});
    const watched = client.watch('news');
    admit();
    expect(await watched).toBe('allowed');
    await real.hub.sendMessage('bob', 'news', 1, true);
    expect(await client.next('news')).toEqual({ event: 'news', data: 1 });
  });
});

describe('next() takes messages in order and explains a miss', () => {
  it('takes the first message of the event and leaves the others unread', async () => {
    real = await startRealHub<User>({ authenticate });
    const client = await connect({ query: { user: 'bob' } });
    await client.sync();
    await real.hub.sendMessage('bob', 'a', 1);
    await real.hub.sendMessage('bob', 'b', 2);
    expect(await client.next('b')).toEqual({ event: 'b', data: 2 });
    expect(await client.next()).toEqual({ event: 'a', data: 1 });
  });

  it('rejects after the timeout naming the event and what arrived', async () => {
    real = await startRealHub<User>({ authenticate });
    const client = await connect({ query: { user: 'bob' } });
    await client.sync();
    await real.hub.sendMessage('bob', 'other', 'x');
    await client.sync();
    await expect(client.next('wanted', { timeout: 20 })).rejects.toThrow(
      'TestClient: no "wanted" message within 20 ms; unread: other "x"',
    );
  });

  it('rejects as soon as the socket closes', async () => {
    real = await startRealHub<User>({ authenticate });
    const client = await connect({ query: { user: 'bob' } });
    await client.sync();
    const next = client.next('wanted', { timeout: 10_000 });
    await real.hub.disconnect('bob');
    await expect(next).rejects.toThrow('closed with 4000 (disconnected by server: do not reconnect) before "wanted"');
  });

  it('a socket whose authenticate hangs closes with 4408', async () => {
    real = await startRealHub<User>({ authenticate, authTimeoutMs: 50 });
    const client = await connect({ query: { user: 'slow' } });
    expect(await client.waitForClose()).toEqual({ code: 4408, reason: 'authentication timeout' });
  });
});
