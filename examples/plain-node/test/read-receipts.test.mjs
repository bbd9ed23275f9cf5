// The receipts recipe of the core README, run: a real hub, real sockets.
import { once } from 'node:events';
import { createServer } from 'node:http';
import { WsHub } from '@wshub/core';
import { connectTestClient } from '@wshub/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { notify, readReceipts } from '../read-receipts.mjs';

let hub;
let server;
let url;
const clients = [];
const handedOff = [];

beforeEach(async () => {
  hub = new WsHub({
    receipts: { undeliveredAfterMs: 300 },
    authenticate: (req) => {
      const q = new URL(req.url, 'http://localhost').searchParams;
      return { id: q.get('user'), deviceFingerprint: q.get('device') };
    },
  });
  readReceipts(hub, { handOff: (item) => handedOff.push(item) });
  server = createServer();
  hub.attach(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  url = `ws://127.0.0.1:${server.address().port}${hub.path}`;
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  handedOff.length = 0;
  await hub.close();
  await new Promise((resolve) => server.close(resolve));
});

async function device(user, name) {
  const client = await connectTestClient(url, { query: { user, device: name } });
  await client.sync();
  clients.push(client);
  return client;
}

describe('read on one device, dismiss on the others', () => {
  it('the phone shows it; the laptop is told it was read', async () => {
    const phone = await device('bob', 'phone');
    const laptop = await device('bob', 'laptop');
    const id = await notify(hub, 'bob', 'your order shipped');
    const onPhone = await phone.next('notification');
    expect(onPhone).toEqual({ event: 'notification', data: { text: 'your order shipped' }, id });
    await laptop.next('notification'); // the laptop got it but did not show it
    phone.emit('wshub:confirm', { ids: [onPhone.id] });
    const read = await laptop.next('notification-read');
    expect(read.data).toEqual({ id, readOn: hub.socketsOf('bob').find((s) => s.deviceFingerprint === 'phone').id });
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(handedOff).toEqual([]);
  });

  it('nobody online: handed off once, after the delay', async () => {
    const id = await notify(hub, 'alice', 'your order shipped');
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(handedOff).toEqual([{ id, userId: 'alice', data: { text: 'your order shipped' } }]);
  });
});
