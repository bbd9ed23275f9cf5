// The plain-Node example's behaviour, tested as its developer would: a real
// server on a free port and real sockets through @wshub/testing's TestClient.
import { once } from 'node:events';
import { connectTestClient } from '@wshub/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createApp } from '../server.mjs';

let app;
let base;
const clients = [];

beforeEach(async () => {
  app = createApp();
  app.server.listen(0, '127.0.0.1');
  await once(app.server, 'listening');
  base = `127.0.0.1:${app.server.address().port}`;
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
  await app.hub.close();
  app.server.closeAllConnections();
  await new Promise((resolve) => app.server.close(resolve));
});

/** A device connecting with a token; the server decides right after the socket opens. */
async function signIn(token, device) {
  const client = await connectTestClient(`ws://${base}${app.hub.path}`, { query: { token, device } });
  clients.push(client);
  return client;
}

const post = (path) => fetch(`http://${base}${path}`, { method: 'POST' });

describe('auth', () => {
  it('refuses an unknown token with 4403', async () => {
    const client = await signIn('stolen-token', 'phone');
    expect(await client.waitForClose()).toEqual({ code: 4403, reason: 'unauthorized' });
  });
});

describe('watch rules', () => {
  it('lets bob watch his own order but not alice’s', async () => {
    const bob = await signIn('bob-token', 'phone');
    expect(await bob.watch('order-status', 42)).toBe('allowed');
    expect(await bob.watch('order-status', 1)).toBe('forbidden');
  });
});

describe('order updates', () => {
  it('reach the device watching the order, not bob’s other device', async () => {
    const phone = await signIn('bob-token', 'phone');
    const laptop = await signIn('bob-token', 'laptop');
    await phone.watch('order-status', 42);
    await laptop.sync();
    await post('/orders/42/status?status=shipped');
    expect(await phone.next('order-status')).toEqual({ event: 'order-status', data: { orderId: 42, status: 'shipped' } });
    await laptop.sync();
    expect(laptop.messages).toEqual([]);
  });
});

describe('announcements', () => {
  it('are pushed to every signed-in user', async () => {
    const alice = await signIn('alice-token', 'laptop');
    const bob = await signIn('bob-token', 'phone');
    await Promise.all([alice.sync(), bob.sync()]);
    await post('/announcements?text=hello');
    const announcement = { event: 'announcement', data: { text: 'hello' } };
    expect(await alice.next('announcement')).toEqual(announcement);
    expect(await bob.next('announcement')).toEqual(announcement);
  });
});
