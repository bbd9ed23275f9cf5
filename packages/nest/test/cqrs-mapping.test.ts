/** How the module maps WsHub's hooks and notifications onto CQRS events and commands. */
import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import {
  ClientDisconnectedEvent,
  ClientMessageEvent,
  ClientReadyEvent,
  PushCommand,
  SendMessageCommand,
  UpdateWsClientCommand,
  WsHub,
  WsModule,
} from '@wshub/nest';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type TestUser, TokenAuthHandler } from './fixtures/token-auth.handler.js';
import { FirstWatchRule, SecondWatchRule } from './fixtures/watch-rules.js';
import { EventProbe } from './support/event-probe.js';
import { RecordingLogger } from './support/recording-logger.js';
import { connectReady, synced } from './support/sessions.js';
import { type RunningApp, startApp } from './support/start-app.js';
import type { TestSocket as TestClient } from '@wshub/test-support';

const PATH = '/api/v1/ws';

@Module({
  imports: [WsModule.forRoot({ authTimeoutMs: 300 })],
  providers: [TokenAuthHandler, FirstWatchRule, SecondWatchRule, EventProbe],
})
class MappingApp {}

const logger = new RecordingLogger();
let running: RunningApp;
let probe: EventProbe;
let commandBus: CommandBus;
let clients: TestClient[] = [];

beforeAll(async () => {
  running = await startApp(MappingApp, { logger });
  probe = running.app.get(EventProbe);
  commandBus = running.app.get(CommandBus);
});
afterEach(() => {
  for (const client of clients) client.ws.terminate();
  clients = [];
});
afterAll(() => running?.close());

async function login(user: string, device = 'browser', role = 'user'): Promise<TestClient> {
  const client = await connectReady(running, probe, PATH, `user=${user}&device=${device}&role=${role}`, user, device);
  clients.push(client);
  return client;
}

function connect(query: string): TestClient {
  const client = running.connect(PATH, query);
  clients.push(client);
  return client;
}

/** Whether `client` receives a message sent to watchers of `event` right after its watch was handled. */
async function watchOutcome(client: TestClient, user: string, event: string): Promise<unknown> {
  client.watch(event, '1');
  await synced(client, probe);
  await commandBus.execute(new SendMessageCommand(user, event, 'delivered', true));
  await commandBus.execute(new SendMessageCommand(user, 'end', null));
  const first = await client.next();
  return first.event === 'end' ? 'not delivered' : first;
}

describe('authenticate → ClientConnectedEvent, bounded by authTimeoutMs', () => {
  it('closes with 4408 when the handler never answers', async () => {
    const client = connect('user=hang');
    expect((await client.waitForClose()).code).toBe(4408);
  });

  it('closes with 4403 when the handler rejects, and publishes no lifecycle event for it', async () => {
    const client = connect('device=x');
    expect((await client.waitForClose()).code).toBe(4403);
    await login('marker'); // a later connection's events have arrived; the refused one had none
    const anonymous = probe.seen.filter((e) => (e instanceof ClientDisconnectedEvent ? e.id : e.userId) === undefined);
    expect(anonymous).toEqual([]);
  });
});

describe('canWatch → IsAllowedToWatchEvent: every pushed promise must resolve true', () => {
  it('allows when nothing was pushed into output', async () => {
    const client = await login('ann');
    expect(await watchOutcome(client, 'ann', 'open')).toEqual({ event: 'open', data: 'delivered' });
  });

  it('refuses when one handler says no', async () => {
    const client = await login('ann');
    client.watch('mixed', '1');
    expect(await client.next()).toEqual({ event: 'watch', data: { event: 'mixed', payload: '1', forbidden: true } });
  });

  it('refuses when a pushed promise rejects', async () => {
    const client = await login('ann');
    client.watch('rejects', '1');
    expect(await client.next()).toEqual({ event: 'watch', data: { event: 'rejects', payload: '1', forbidden: true } });
  });

  it('waits for a promise that settles later', async () => {
    const client = await login('ann');
    expect(await watchOutcome(client, 'ann', 'later')).toEqual({ event: 'later', data: 'delivered' });
  });

  it('carries the user object, so rules can read it', async () => {
    const admin = await login('ann', 'browser', 'admin');
    const user = await login('ben', 'browser', 'user');
    expect(await watchOutcome(admin, 'ann', 'admins')).toEqual({ event: 'admins', data: 'delivered' });
    user.watch('admins', '1');
    expect(await user.next()).toEqual({ event: 'watch', data: { event: 'admins', payload: '1', forbidden: true } });
  });
});

describe('ready → ClientReadyEvent', () => {
  it('carries userId, deviceFingerprint and the connection id', async () => {
    const ready = probe.next(ClientReadyEvent, (e) => e.userId === 'cat');
    await login('cat', 'tablet');
    const event = await ready;
    const [socket] = running.app.get(WsHub).socketsOf('cat');
    expect(event).toEqual(new ClientReadyEvent('cat', 'tablet', socket!.id));
  });
});

describe('disconnected → ClientDisconnectedEvent, which the module does not act on itself', () => {
  it('is published when a client leaves, and leaves the same device’s other sockets open', async () => {
    const firstTab = await login('dan', 'laptop');
    const secondTab = await login('dan', 'laptop');
    const left = probe.next(ClientDisconnectedEvent, (e) => e.id === 'dan');
    firstTab.close();
    expect(await left).toEqual(new ClientDisconnectedEvent('dan', 'laptop'));
    await commandBus.execute(new SendMessageCommand('dan', 'still-here', 1));
    expect(await secondTab.next()).toEqual({ event: 'still-here', data: 1 });
    expect(running.app.get(WsHub).socketsOf('dan')).toHaveLength(1);
  });
});

describe('message → ClientMessageEvent for client events other than watch/unwatch', () => {
  it('carries userId, deviceFingerprint, socket, event and data', async () => {
    const client = await login('eve', 'phone');
    const typing = probe.next(ClientMessageEvent, (e) => e.event === 'typing');
    client.watch('open', '7');
    client.unwatch('open', '7');
    client.emit('typing', { orderId: 42 });
    const event = await typing;
    expect(event.userId).toBe('eve');
    expect(event.deviceFingerprint).toBe('phone');
    expect(event.data).toEqual({ orderId: 42 });
    expect(event.socket.roomId).toBe('eve');
    expect(probe.unclaimed(ClientMessageEvent).filter((e) => e.userId === 'eve')).toEqual([]);
  });
});

describe('serialize → instanceToPlain, once per message or once per user for callbacks', () => {
  it('runs a PushCommand data callback once per user, not per socket', async () => {
    const laptop = await login('fay', 'laptop');
    const phone = await login('fay', 'phone');
    const calls: string[] = [];
    await commandBus.execute(
      new PushCommand<TestUser>('hello', (user) => {
        calls.push(user.id);
        return { to: user.id };
      }),
    );
    expect(await laptop.next()).toEqual({ event: 'hello', data: { to: 'fay' } });
    expect(await phone.next()).toEqual({ event: 'hello', data: { to: 'fay' } });
    expect(calls.filter((id) => id === 'fay')).toEqual(['fay']);
  });
});

describe('commands → WsHub methods', () => {
  it('UpdateWsClientCommand replaces the user object on all that user’s sockets', async () => {
    const laptop = await login('gil', 'laptop', 'user');
    const phone = await login('gil', 'phone', 'user');
    await commandBus.execute(new UpdateWsClientCommand({ id: 'gil', deviceFingerprint: 'laptop', role: 'admin' }));
    await commandBus.execute(new PushCommand<TestUser>('admins-only', 1, (user) => user.role === 'admin' && user.id === 'gil'));
    expect(await laptop.next()).toEqual({ event: 'admins-only', data: 1 });
    expect(await phone.next()).toEqual({ event: 'admins-only', data: 1 });
  });
});

describe("hub errors → Nest's Logger", () => {
  it('logs a push callback that throws, and still delivers to everyone else', async () => {
    const good = await login('hal');
    await login('ivy');
    await commandBus.execute(
      new PushCommand<TestUser>('per-user', (user) => {
        if (user.id === 'ivy') throw new Error('no data for ivy');
        return user.id;
      }),
    );
    expect(await good.next()).toEqual({ event: 'per-user', data: 'hal' });
    const logged = logger.from('WsModule').filter((e) => e.level === 'error' && e.message.includes('no data for ivy'));
    expect(logged).toHaveLength(1);
  });
});
