// The demo's notification rules over real sockets, as its developer would
// test them: the app in-process on a free port, clients from @wshub/testing.
import 'reflect-metadata';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { connectTestClient, type TestClient, type TestClientOptions } from '@wshub/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { compiled } from './compiled.js';

let app: INestApplication;
let base: string;
const clients: TestClient[] = [];

beforeAll(async () => {
  const { AppModule } = await compiled<typeof import('../src/app.module.js')>('app.module.js');
  app = await NestFactory.create(AppModule, { logger: false });
  await app.listen(0, '127.0.0.1');
  base = await app.getUrl();
  // The embedded database opens in the background; the orders wait for it.
  await fetch(`${base}/orders`);
});
afterEach(() => Promise.all(clients.splice(0).map((client) => client.close())));
afterAll(() => app?.close());

async function signIn(token: string, device = 'browser', options: TestClientOptions = {}): Promise<TestClient> {
  const client = await connectTestClient(`${base.replace('http', 'ws')}/api/v1/ws`, { query: { token, device }, ...options });
  clients.push(client);
  return client;
}

const post = (path: string, body: unknown) =>
  fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('auth', () => {
  it('refuses an unknown token with 4403', async () => {
    const stranger = await signIn('stolen-token');
    expect(await stranger.waitForClose()).toEqual({ code: 4403, reason: 'unauthorized' });
  });
});

describe('order watch rule', () => {
  it('lets bob watch his order, not alice’s', async () => {
    const bob = await signIn('bob-token');
    expect(await bob.watch('order-status', 42)).toBe('allowed');
    expect(await bob.watch('order-status', 1)).toBe('forbidden');
  });
});

describe('order status updates', () => {
  it('reach bob’s device that watches the order, not his other one', async () => {
    const phone = await signIn('bob-token', 'phone');
    const laptop = await signIn('bob-token', 'laptop');
    await phone.watch('order-status', 43);
    await laptop.sync();
    expect((await post('/orders/43/status', { status: 'shipped' })).status).toBe(202);
    expect(await phone.next('order-status')).toEqual({ event: 'order-status', data: { orderId: 43, status: 'shipped' }, id: expect.any(String) });
    await laptop.sync();
    expect(laptop.messages).toEqual([]);
  });
});

describe('announcements', () => {
  it('with adminsOnly reach alice (admin) and not bob', async () => {
    const alice = await signIn('alice-token');
    const bob = await signIn('bob-token');
    await Promise.all([alice.sync(), bob.sync()]);
    await post('/announcements', { text: 'deploy at 5', adminsOnly: true });
    expect(await alice.next('announcement')).toEqual({ event: 'announcement', data: { text: 'deploy at 5', adminsOnly: true } });
    await bob.sync();
    expect(bob.messages).toEqual([]);
  });
});
