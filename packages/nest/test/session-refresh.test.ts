/** Sessions that expire, and SessionRefreshEvent, in a real Nest app over real sockets. */
import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { EventsHandler, type IEventHandler } from '@nestjs/cqrs';
import { ClientConnectedEvent, type HubUser, SessionRefreshEvent, WsModule } from '@wshub/nest';
import { afterEach, describe, expect, it } from 'vitest';
import { TestSocket } from '@wshub/test-support';
import { type RunningApp, startApp } from './support/start-app.js';

const PATH = '/api/v1/ws';

/** Tokens `<user>:<ttl ms>`; `?token=` on connect. */
function userOf(token: string | null): HubUser & { expiresAt: number } {
  const [id, ttl] = (token ?? '').split(':');
  if (!id || !ttl) throw new Error('bad token');
  return { id, deviceFingerprint: 'd', expiresAt: Date.now() + Number(ttl) };
}

@EventsHandler(ClientConnectedEvent)
class ExpiringAuth implements IEventHandler<ClientConnectedEvent> {
  handle(event: ClientConnectedEvent): void {
    try {
      event.resolve(userOf(new URL(event.incomingMessage.url, 'http://x').searchParams.get('token')));
    } catch (error) {
      event.reject(error);
    }
  }
}

@EventsHandler(SessionRefreshEvent)
class Refresh implements IEventHandler<SessionRefreshEvent> {
  handle(event: SessionRefreshEvent): void {
    try {
      event.resolve(userOf(event.token));
    } catch (error) {
      event.reject(error);
    }
  }
}

let running: RunningApp | undefined;
const open: TestSocket[] = [];
afterEach(async () => {
  for (const c of open.splice(0)) c.ws.terminate();
  await running?.close();
  running = undefined;
});

/** A v2 client. */
function connect(app: RunningApp, token: string): TestSocket {
  const client = new TestSocket(app.wsUrl(PATH, `token=${token}`), { protocols: ['wshub'] });
  open.push(client);
  return client;
}

/** The next frame of `event`, skipping others. */
async function nextOf(client: TestSocket, event: string) {
  for (;;) {
    const frame = await client.next(5000);
    if (frame.event === event) return frame;
  }
}

describe('sessions that expire, with SessionRefreshEvent', () => {
  it('asks the client ahead of expiry; a refresh the handler accepts keeps the socket past its first expiry', async () => {
    @Module({ imports: [WsModule], providers: [ExpiringAuth, Refresh] })
    class App {}
    running = await startApp(App);
    // 1 s: the notice comes half a second ahead, room enough on a loaded machine.
    const client = connect(running, 'bob:1000');
    await nextOf(client, 'wshub:welcome');
    const notice = await nextOf(client, 'wshub:expiring');
    expect(notice.data.expiresAt).toEqual(expect.any(Number));
    expect(await client.request('wshub:refresh', { token: 'bob:60000' })).toMatchObject({ op: 'refresh', status: 'refreshed' });
    // Past the first expiry (1 s after connecting), the socket is still open.
    const state = await Promise.race([client.waitForClose(), new Promise((resolve) => setTimeout(() => resolve('open'), 1200))]);
    expect(state).toBe('open');
  });

  it('a refresh for another user is refused with 4403', async () => {
    @Module({ imports: [WsModule], providers: [ExpiringAuth, Refresh] })
    class App {}
    running = await startApp(App);
    const client = connect(running, 'bob:60000');
    await nextOf(client, 'wshub:welcome');
    client.send({ event: 'wshub:refresh', id: 1, data: { token: 'alice:60000' } });
    expect((await client.waitForClose()).code).toBe(4403);
  });

  it('without a SessionRefreshEvent handler nobody is asked to refresh, and the session ends with 4401', async () => {
    @Module({ imports: [WsModule], providers: [ExpiringAuth] })
    class App {}
    running = await startApp(App);
    const client = connect(running, 'bob:300');
    await nextOf(client, 'wshub:welcome');
    expect((await client.waitForClose()).code).toBe(4401);
    expect(client.messages.map((m) => m.event)).not.toContain('wshub:expiring');
  });
});
