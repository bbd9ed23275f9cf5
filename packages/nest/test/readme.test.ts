/**
 * Every example of @kovalenko/nestjs-websocket's README, run with only the package name
 * changed (fixtures in ./fixtures/readme), against real sockets.
 */
import 'reflect-metadata';
import { CommandBus } from '@nestjs/cqrs';
import { ClientDisconnectedEvent, ClientMessageEvent, SendMessageCommand, WsHub } from '@wshub/nest';
import { Exclude, Expose } from 'class-transformer';
import { WebSocket } from 'ws';
import { afterAll, afterEach, beforeAll, describe, expect, it, type MockInstance, vi } from 'vitest';
import { AppModule } from './fixtures/readme/app.module.js';
import { BroadcastService } from './fixtures/readme/broadcast.service.js';
import { NotificationService } from './fixtures/readme/notification.service.js';
import { OrderStatusService } from './fixtures/readme/order-status.service.js';
import { SessionService } from './fixtures/readme/session.service.js';
import { EventProbe } from './support/event-probe.js';
import { connectReady, synced } from './support/sessions.js';
import { type RunningApp, startApp } from './support/start-app.js';
import type { TestSocket as TestClient } from '@wshub/test-support';

const PATH = '/api/v1/ws';
let running: RunningApp;
let probe: EventProbe;
let commandBus: CommandBus;
let clients: TestClient[] = [];
let consoleLog: MockInstance<typeof console.log>;

beforeAll(async () => {
  // Section 7's handler logs every connection to the console.
  consoleLog = vi.spyOn(console, 'log').mockImplementation(() => {});
  running = await startApp(AppModule);
  probe = running.app.get(EventProbe);
  commandBus = running.app.get(CommandBus);
});
afterEach(() => {
  for (const client of clients) client.ws.terminate();
  clients = [];
});
afterAll(async () => {
  await running?.close();
  consoleLog.mockRestore();
});

async function login(token: string): Promise<TestClient> {
  const [user = '', device = 'browser'] = token.split(':');
  const client = await connectReady(running, probe, PATH, `token=${token}`, user, device);
  clients.push(client);
  return client;
}

/** Proves `client` got nothing before: the marker sent now must be its next message. */
async function nothingBefore(client: TestClient, userId: string, device: string): Promise<void> {
  const marker = `marker-${device}`;
  const hub = running.app.get(WsHub);
  const socket = hub.socketsOf(userId).find((s) => s.deviceFingerprint === device)!;
  socket.send(JSON.stringify({ event: marker }));
  expect(await client.next()).toEqual({ event: marker });
}

describe('1. Import the module: imports: [WsModule] serves /api/v1/ws on the app server', () => {
  it('accepts a WebSocket on the default path of an app made with NestFactory.create, no adapter set', async () => {
    const client = await login('bob:laptop');
    expect(client.ws.readyState).toBe(WebSocket.OPEN);
  });
});

describe('2. Authorize clients on connect', () => {
  it('admits the user the handler resolves, read from event.incomingMessage', async () => {
    await login('alice:laptop');
    const [socket] = running.app.get(WsHub).socketsOf('alice');
    expect(socket?.user).toEqual({ id: 'alice', deviceFingerprint: 'laptop', name: 'Alice', role: 'admin' });
  });

  it('closes with 4403 when the handler rejects, without the error text', async () => {
    const client = running.connect(PATH, 'token=mallory:laptop');
    clients.push(client);
    const closed = await client.waitForClose();
    expect(closed.code).toBe(4403);
    expect(closed.reason).not.toContain('mallory');
  });
});

class OrderView {
  id = 42;
  status = 'shipped';
  @Exclude() internalNote = 'do not leak';
  @Expose() get label(): string {
    return `#${this.id} ${this.status}`;
  }
}

describe('3. Send a message to a specific user', () => {
  it('delivers { event: "notification", data } to every socket of that user only', async () => {
    const laptop = await login('alice:laptop');
    const phone = await login('alice:phone');
    const bob = await login('bob:laptop');
    await running.app.get(NotificationService).notify('alice', { text: 'hello' });
    expect(await laptop.next()).toEqual({ event: 'notification', data: { text: 'hello' } });
    expect(await phone.next()).toEqual({ event: 'notification', data: { text: 'hello' } });
    await nothingBefore(bob, 'bob', 'laptop');
  });

  it('serializes data with class-transformer (instanceToPlain)', async () => {
    const laptop = await login('alice:laptop');
    await running.app.get(NotificationService).notify('alice', new OrderView());
    expect(await laptop.next()).toEqual({
      event: 'notification',
      data: { id: 42, status: 'shipped', label: '#42 shipped' },
    });
  });
});

describe('4. Broadcast to all connected clients', () => {
  it('PushCommand(event, data) reaches every connected user', async () => {
    const alice = await login('alice:laptop');
    const bob = await login('bob:laptop');
    await running.app.get(BroadcastService).toEveryone();
    expect(await alice.next()).toEqual({ event: 'server-update', data: { version: '2.0.0' } });
    expect(await bob.next()).toEqual({ event: 'server-update', data: { version: '2.0.0' } });
  });

  it('PushCommand(event, data, filter) reaches only the users the filter accepts', async () => {
    const alice = await login('alice:laptop');
    const bob = await login('bob:laptop');
    await running.app.get(BroadcastService).toAdmins();
    expect(await alice.next()).toEqual({ event: 'admin-alert', data: { message: 'Maintenance in 10 minutes' } });
    await nothingBefore(bob, 'bob', 'laptop');
  });
});

describe('5. Watch / Unwatch subscriptions', () => {
  it('watch registers a subscription the handler allows; unwatch removes it', async () => {
    const bob = await login('bob:laptop');
    bob.watch('order-status', '42');
    await synced(bob, probe);
    await running.app.get(OrderStatusService).changed('bob', { id: 42, status: 'packed' });
    expect(await bob.next()).toEqual({ event: 'order-status', data: { id: 42, status: 'packed' } });
    bob.unwatch('order-status', '42');
    await synced(bob, probe);
    await running.app.get(OrderStatusService).changed('bob', { id: 42, status: 'shipped' });
    await nothingBefore(bob, 'bob', 'laptop');
  });

  it('a denied watch gets the forbidden reply, on the requesting socket only', async () => {
    const laptop = await login('alice:laptop');
    const phone = await login('alice:phone');
    laptop.emit('watch', { event: 'order-status', payload: '42' });
    expect(await laptop.next()).toEqual({
      event: 'watch',
      data: { event: 'order-status', payload: '42', forbidden: true },
    });
    await nothingBefore(phone, 'alice', 'phone');
    // Denied means not registered.
    await running.app.get(OrderStatusService).changed('alice', { id: 42, status: 'packed' });
    await nothingBefore(laptop, 'alice', 'laptop');
  });

  it('SendMessageCommand(..., data.id) reaches only the sockets watching that payload', async () => {
    const watching42 = await login('bob:laptop');
    const watching43 = await login('bob:phone');
    const notWatching = await login('bob:tablet');
    watching42.watch('order-status', '42');
    watching43.watch('order-status', 43); // a number payload is the same scope as "43"
    await Promise.all([synced(watching42, probe), synced(watching43, probe)]);
    await running.app.get(OrderStatusService).changed('bob', { id: 42, status: 'shipped' });
    expect(await watching42.next()).toEqual({ event: 'order-status', data: { id: 42, status: 'shipped' } });
    await nothingBefore(watching43, 'bob', 'phone');
    await nothingBefore(notWatching, 'bob', 'tablet');
  });

  it('true as the last argument reaches every socket watching the event, whatever the payload', async () => {
    const watching42 = await login('bob:laptop');
    const watching43 = await login('bob:phone');
    const notWatching = await login('bob:tablet');
    watching42.watch('order-status', '42');
    watching43.watch('order-status', '43');
    await Promise.all([synced(watching42, probe), synced(watching43, probe)]);
    await running.app.get(OrderStatusService).toWatchers('bob', { id: 43, status: 'lost' });
    expect(await watching42.next()).toEqual({ event: 'order-status', data: { id: 43, status: 'lost' } });
    expect(await watching43.next()).toEqual({ event: 'order-status', data: { id: 43, status: 'lost' } });
    await nothingBefore(notWatching, 'bob', 'tablet');
  });

  it('a watch without payload receives every occurrence of the event', async () => {
    const bob = await login('bob:laptop');
    bob.watch('invoice');
    await synced(bob, probe);
    await commandBus.execute(new SendMessageCommand('bob', 'invoice', { n: 1 }, '1001'));
    await commandBus.execute(new SendMessageCommand('bob', 'invoice', { n: 2 }, 1002));
    expect(await bob.next()).toEqual({ event: 'invoice', data: { n: 1 } });
    expect(await bob.next()).toEqual({ event: 'invoice', data: { n: 2 } });
  });
});

describe('6. Disconnect a client', () => {
  it('DisconnectWsClientCommand closes that device only (4000)', async () => {
    const phone = await login('bob:phone');
    const laptop = await login('bob:laptop');
    await running.app.get(SessionService).byCommand('bob', 'phone');
    expect((await phone.waitForClose()).code).toBe(4000);
    await nothingBefore(laptop, 'bob', 'laptop');
  });

  it('publishing ClientDisconnectedEvent closes the matching sockets', async () => {
    const phone = await login('bob:phone');
    const laptop = await login('bob:laptop');
    running.app.get(SessionService).byEvent('bob', 'phone');
    expect((await phone.waitForClose()).code).toBe(4000);
    await nothingBefore(laptop, 'bob', 'laptop');
  });

  it('the module then publishes ClientDisconnectedEvent(id, deviceFingerprint) itself', async () => {
    const reported = probe.next(ClientDisconnectedEvent, (e) => e.id === 'bob' && e.deviceFingerprint === 'watch');
    const watch = await login('bob:watch');
    await running.app.get(SessionService).byCommand('bob', 'watch');
    await watch.waitForClose();
    expect(await reported).toBeInstanceOf(ClientDisconnectedEvent);
  });
});

describe('7. React to connect / disconnect lifecycle', () => {
  it('ClientReadyEvent carries the userId once the client is authorized', async () => {
    consoleLog.mockClear();
    await login('bob:console');
    expect(consoleLog).toHaveBeenCalledWith('User bob is connected and authorized');
  });
});

describe('AuthWebSocket: the socket the module keeps', () => {
  it('is the ws WebSocket with id, roomId, deviceFingerprint, user, watching and isAuthorized', async () => {
    const bob = await login('bob:laptop');
    bob.watch('order-status', '42');
    const message = probe.next(ClientMessageEvent, (e) => e.event === 'hello');
    bob.emit('hello', { from: 'bob' });
    const { socket } = await message;
    expect(socket).toBeInstanceOf(WebSocket);
    expect(typeof socket.id).toBe('string');
    expect(socket.roomId).toBe('bob');
    expect(socket.deviceFingerprint).toBe('laptop');
    expect(socket.user).toMatchObject({ id: 'bob', name: 'Bob' });
    expect(socket.watching.get('order-status')).toEqual(new Set(['42']));
    await expect(socket.isAuthorized).resolves.toBe(true);
  });
});

describe('Message protocol', () => {
  it('frames are JSON { event, data } both ways', async () => {
    const bob = await login('bob:laptop');
    bob.ws.send(JSON.stringify({ event: 'watch', data: { event: 'order-status', payload: '43' } }));
    await synced(bob, probe);
    const raw = new Promise<string>((resolve) => bob.ws.once('message', (data) => resolve(data.toString())));
    await running.app.get(OrderStatusService).changed('bob', { id: 43, status: 'late' });
    expect(JSON.parse(await raw)).toEqual({ event: 'order-status', data: { id: 43, status: 'late' } });
  });
});
