import 'reflect-metadata';
import { type DynamicModule, Module, type Type } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { Hub, WsHub, WsModule } from '@wshub/nest';
import { afterEach, describe, expect, it } from 'vitest';
import { ConnectionRefusedError, FakeHub, FakeHubModule, WsTestingModule } from '../../src/nest/index.js';
import { Journal, OrdersModule, OrdersService, type User } from './orders-app.js';

let moduleRef: TestingModule;
afterEach(() => moduleRef?.close());

async function start(ws: Type | DynamicModule = WsTestingModule) {
  moduleRef = await Test.createTestingModule({ imports: [OrdersModule, ws] }).compile();
  await moduleRef.init(); // registers the CQRS handlers
  return { hub: moduleRef.get<FakeHub<User>>(FakeHub), orders: moduleRef.get(OrdersService), journal: moduleRef.get(Journal) };
}

describe('the app’s ClientConnectedEvent handler decides who connects', () => {
  it('accepts a good token and publishes ClientReadyEvent', async () => {
    const { hub, journal } = await start();
    const socket = await hub.connect({ query: { token: 'bob-token', device: 'phone' } });
    expect(socket.user).toEqual({ id: 'bob', role: 'user', deviceFingerprint: 'phone' });
    expect(journal.entries).toEqual(['ready bob']);
  });

  it('refuses a bad token with 4403 and the app’s own reason', async () => {
    const { hub } = await start();
    const refused = hub.connect({ query: { token: 'stolen' } });
    await expect(refused).rejects.toBeInstanceOf(ConnectionRefusedError);
    await expect(refused).rejects.toMatchObject({ code: 4403, cause: new Error('invalid token') });
    await expect(refused).rejects.toThrow('invalid token');
  });

  it('forRoot options reach the hub: no answer within authTimeoutMs is 4408', async () => {
    const { hub } = await start(WsTestingModule.forRoot({ authTimeoutMs: 30 }));
    await expect(hub.connect({ query: { token: 'hang' } })).rejects.toMatchObject({ code: 4408 });
  });
});

describe('the app’s IsAllowedToWatchEvent handlers decide watches', () => {
  it('bob may watch his order, not alice’s; alice (admin) may watch every order', async () => {
    const { hub } = await start();
    const bob = await hub.connect({ query: { token: 'bob-token' } });
    const alice = await hub.connect({ query: { token: 'alice-token' } });
    expect(await bob.watch('order-status', 42)).toBe('allowed');
    expect(await bob.watch('order-status', 1)).toBe('forbidden');
    expect(await alice.watch('order-status')).toBe('allowed');
  });
});

describe('commands reach the FakeHub', () => {
  it('SendMessageCommand: the order update reaches the watching device, serialized by class-transformer', async () => {
    const { hub, orders } = await start();
    const phone = await hub.connect({ query: { token: 'bob-token', device: 'phone' } });
    await hub.connect({ query: { token: 'bob-token', device: 'laptop' } });
    await phone.watch('order-status', 42);
    await orders.ship(42);
    expect(hub.deliveries).toEqual([
      { userId: 'bob', deviceFingerprint: 'phone', socketId: phone.id, event: 'order-status', data: { orderId: 42, status: 'shipped' } },
    ]);
  });

  it('PushCommand with a filter reaches admins only', async () => {
    const { hub, orders } = await start();
    await hub.connect({ query: { token: 'alice-token' } });
    await hub.connect({ query: { token: 'bob-token' } });
    await orders.announceToAdmins('maintenance');
    expect(hub.deliveries.map((d) => [d.userId, d.event, d.data])).toEqual([['alice', 'announcement', { text: 'maintenance' }]]);
  });

  it('DisconnectWsClientCommand closes that device with 4000 and ClientDisconnectedEvent follows', async () => {
    const { hub, orders, journal } = await start();
    const phone = await hub.connect({ query: { token: 'bob-token', device: 'phone' } });
    const laptop = await hub.connect({ query: { token: 'bob-token', device: 'laptop' } });
    await orders.signOut('bob', 'phone');
    expect(phone.closed?.code).toBe(4000);
    expect(laptop.closed).toBeUndefined();
    expect(journal.entries).toEqual(['ready bob', 'ready bob', 'disconnected bob']);
  });

  it('an app-published ClientDisconnectedEvent closes every device of the user', async () => {
    const { hub, orders } = await start();
    const phone = await hub.connect({ query: { token: 'bob-token', device: 'phone' } });
    const laptop = await hub.connect({ query: { token: 'bob-token', device: 'laptop' } });
    orders.kick('bob');
    expect(await Promise.all([phone.waitForClose(), laptop.waitForClose()])).toMatchObject([{ code: 4000 }, { code: 4000 }]);
  });
});

describe('client events and the module’s lifecycle', () => {
  it('a client frame becomes ClientMessageEvent', async () => {
    const { hub, journal } = await start();
    const socket = await hub.connect({ query: { token: 'bob-token' } });
    await socket.emit('typing', { orderId: 42 });
    expect(journal.entries).toContain('typing from bob: {"orderId":42}');
  });

  it('Hub and FakeHub are the same instance; WsHub says to inject Hub', async () => {
    await start();
    expect(moduleRef.get(Hub)).toBe(moduleRef.get(FakeHub));
    expect(() => moduleRef.get(WsHub).attach).toThrow(/inject Hub, which both are, instead/);
  });

  it('closing the module closes the sockets with 1001', async () => {
    const { hub } = await start();
    const socket = await hub.connect({ query: { token: 'bob-token' } });
    await moduleRef.close();
    expect(socket.closed?.code).toBe(1001);
  });

  it('works in a full Nest application (no HTTP path is served)', async () => {
    moduleRef = await Test.createTestingModule({ imports: [OrdersModule, WsTestingModule] }).compile();
    const app = moduleRef.createNestApplication();
    await app.init();
    const hub = app.get<FakeHub<User>>(FakeHub);
    expect((await hub.connect({ query: { token: 'alice-token' } })).user.id).toBe('alice');
    await app.close();
  });
});

describe('FakeHubModule runs an app’s own WsModule on a FakeHub', () => {
  @Module({ imports: [WsModule.forRootAsync({ useFactory: () => ({ authTimeoutMs: 30 }) }), OrdersModule] })
  class AppModule {}

  it('the app’s handlers and commands run against the fake', async () => {
    moduleRef = await Test.createTestingModule({ imports: [AppModule, FakeHubModule] }).compile();
    await moduleRef.init();
    const hub = moduleRef.get<FakeHub<User>>(FakeHub);
    expect(moduleRef.get(Hub)).toBe(hub);
    const phone = await hub.connect({ query: { token: 'bob-token', device: 'phone' } });
    await phone.watch('order-status', 42);
    await moduleRef.get(OrdersService).ship(42);
    expect(phone.received).toEqual([{ event: 'order-status', data: { orderId: 42, status: 'shipped' } }]);
    await expect(hub.connect({ query: { token: 'hang' } })).rejects.toMatchObject({ code: 4408 }); // the app's options apply
  });
});

describe('FakeHubModule runs on the in-memory broker, whatever broker the app configured', () => {
  /** A broker that records what the hub asks of it, as a RedisBroker would be asked. */
  class RecordingBroker {
    readonly distributed = true;
    readonly calls: string[] = [];
    attach(): void {
      this.calls.push('attach');
    }
    publishToUser(): void {
      this.calls.push('publishToUser');
    }
    publishToAll(): void {
      this.calls.push('publishToAll');
    }
    userJoined(): void {
      this.calls.push('userJoined');
    }
    userUpdated(): void {
      this.calls.push('userUpdated');
    }
    userLeft(): void {
      this.calls.push('userLeft');
    }
    async users(): Promise<Map<string, unknown>> {
      this.calls.push('users');
      return new Map();
    }
    async onlineUsers(): Promise<string[]> {
      this.calls.push('onlineUsers');
      return [];
    }
    async isOnline(): Promise<boolean> {
      this.calls.push('isOnline');
      return false;
    }
    stats(): Record<string, number> {
      return {};
    }
    async close(): Promise<void> {
      this.calls.push('close');
    }
  }

  it('never attaches or uses the app’s broker, and closes it with the module', async () => {
    const broker = new RecordingBroker();
    @Module({ imports: [WsModule.forRoot({ broker }), OrdersModule] })
    class AppModule {}
    moduleRef = await Test.createTestingModule({ imports: [AppModule, FakeHubModule] }).compile();
    await moduleRef.init();
    const hub = moduleRef.get<FakeHub<User>>(FakeHub);
    const phone = await hub.connect({ query: { token: 'bob-token', device: 'phone' } });
    await phone.watch('order-status', 42);
    await moduleRef.get(OrdersService).ship(42);
    await hub.push('notice', { text: 'hello' });
    expect(phone.received.map((m) => m.event)).toEqual(['order-status', 'notice']);
    expect(await hub.onlineUsers()).toEqual(['bob']); // this process's users: the single-node broker
    expect(broker.calls).toEqual([]);
    await moduleRef.close();
    expect(broker.calls).toEqual(['close']);
  });

  it('WsTestingModule.forRoot({ broker }) does the same', async () => {
    const broker = new RecordingBroker();
    const { hub } = await start(WsTestingModule.forRoot({ broker }));
    await hub.connect({ query: { token: 'bob-token' } });
    await hub.sendMessage('bob', 'notice', { text: 'hello' });
    expect(hub.deliveries).toHaveLength(1);
    expect(broker.calls).toEqual([]);
    await moduleRef.close();
    expect(broker.calls).toEqual(['close']);
  });
});
