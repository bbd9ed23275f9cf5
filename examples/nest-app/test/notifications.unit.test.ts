// The demo's auth handler, watch rule and notification code, unit-tested
// without a port: the whole app module, its WsModule running on a FakeHub
// (one module for the file: its embedded database opens once).
import 'reflect-metadata';
import { Test, type TestingModule } from '@nestjs/testing';
import { FakeHub, FakeHubModule } from '@wshub/testing/nest';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { DemoDatabase } from '../src/database/demo-database.js';
import type { AnnouncementsController } from '../src/announcements/announcements.controller.js';
import type { DemoUser } from '../src/demo-users.js';
import type { OrdersController } from '../src/orders/orders.controller.js';
import { compiled } from './compiled.js';

const { AppModule } = await compiled<typeof import('../src/app.module.js')>('app.module.js');
const orders = await compiled<typeof import('../src/orders/orders.controller.js')>('orders/orders.controller.js');
const database = await compiled<typeof import('../src/database/demo-database.js')>('database/demo-database.js');
const announcements = await compiled<typeof import('../src/announcements/announcements.controller.js')>(
  'announcements/announcements.controller.js',
);

let moduleRef: TestingModule;
let hub: FakeHub<DemoUser>;

beforeAll(async () => {
  moduleRef = await Test.createTestingModule({ imports: [AppModule, FakeHubModule] }).compile();
  moduleRef.useLogger(false);
  await moduleRef.init();
  hub = moduleRef.get(FakeHub);
  await moduleRef.get<DemoDatabase>(database.DemoDatabase).ready();
});
afterEach(() => hub.reset());
afterAll(() => moduleRef?.close());

const ordersController = () => moduleRef.get<OrdersController>(orders.OrdersController);
const announcementsController = () => moduleRef.get<AnnouncementsController>(announcements.AnnouncementsController);

describe('auth', () => {
  it('refuses an unknown token with 4403, for the handler’s reason', async () => {
    await expect(hub.connect({ query: { token: 'stolen-token' } })).rejects.toMatchObject({
      code: 4403,
      cause: new Error('unknown token'),
    });
  });
});

describe('order watch rule', () => {
  it('lets bob watch his order, not alice’s; alice (admin) watches every order', async () => {
    const bob = await hub.connect({ query: { token: 'bob-token' } });
    const alice = await hub.connect({ query: { token: 'alice-token' } });
    expect(await bob.watch('order-status', 42)).toBe('allowed');
    expect(await bob.watch('order-status', 1)).toBe('forbidden');
    expect(await alice.watch('order-status')).toBe('allowed');
  });
});

describe('order status updates', () => {
  it('reach bob’s device that watches the order, and admins that watch every order', async () => {
    const phone = await hub.connect({ query: { token: 'bob-token', device: 'phone' } });
    await hub.connect({ query: { token: 'bob-token', device: 'laptop' } });
    const alice = await hub.connect({ query: { token: 'alice-token' } });
    await phone.watch('order-status', 42);
    await alice.watch('order-status');
    await ordersController().setStatus(42, { status: 'shipped' });
    const update = { event: 'order-status', data: { orderId: 42, status: 'shipped' } };
    // Written to the outbox with the order; the relay sends it once the transaction commits.
    await expect.poll(() => hub.deliveries.length).toBe(2);
    expect(hub.deliveries).toEqual([
      { userId: 'bob', deviceFingerprint: 'phone', socketId: phone.id, ...update },
      { userId: 'alice', deviceFingerprint: 'browser', socketId: alice.id, ...update },
    ]);
  });
});

describe('announcements', () => {
  it('with adminsOnly reach alice and not bob', async () => {
    await hub.connect({ query: { token: 'alice-token' } });
    await hub.connect({ query: { token: 'bob-token' } });
    await announcementsController().announce({ text: 'deploy at 5', adminsOnly: true });
    expect(hub.deliveries.map((d) => d.userId)).toEqual(['alice']);
  });
});
