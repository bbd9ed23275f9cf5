/** Sessions that expire, and SessionRefreshEvent, in a real Nest app over real sockets. */
import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { EventsHandler, type IEventHandler } from '@nestjs/cqrs';
import { ClientConnectedEvent, type HubUser, SessionRefreshEvent, WsModule } from '@wshub/nest';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
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
afterEach(async () => {
  await running?.close();
  running = undefined;
});

/** A v2 client: frames in order, and its close. */
function connect(app: RunningApp, token: string) {
  const ws = new WebSocket(app.wsUrl(PATH, `token=${token}`), ['wshub']);
  const frames: Array<{ event: string; data: any }> = [];
  const waiting: Array<() => void> = [];
  ws.on('message', (raw) => {
    frames.push(JSON.parse(raw.toString()));
    for (const wake of waiting.splice(0)) wake();
  });
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  const next = async (event: string) => {
    for (;;) {
      const i = frames.findIndex((f) => f.event === event);
      if (i >= 0) return frames.splice(i, 1)[0]!;
      await new Promise<void>((resolve) => waiting.push(resolve));
    }
  };
  const seen = () => frames.map((f) => f.event);
  return { ws, next, closed, seen };
}

describe('sessions that expire, with SessionRefreshEvent', () => {
  it('asks the client ahead of expiry; a refresh the handler accepts keeps the socket past its first expiry', async () => {
    @Module({ imports: [WsModule], providers: [ExpiringAuth, Refresh] })
    class App {}
    running = await startApp(App);
    // 1 s: the notice comes half a second ahead, room enough on a loaded machine.
    const client = connect(running, 'bob:1000');
    await client.next('wshub:welcome');
    const notice = await client.next('wshub:expiring');
    expect(notice.data.expiresAt).toEqual(expect.any(Number));
    client.ws.send(JSON.stringify({ event: 'wshub:refresh', id: 1, data: { token: 'bob:60000' } }));
    expect((await client.next('wshub:ack')).data).toMatchObject({ id: 1, op: 'refresh', status: 'refreshed' });
    // Past the first expiry (1 s after connecting), the socket is still open.
    const state = await Promise.race([client.closed, new Promise((resolve) => setTimeout(() => resolve('open'), 1200))]);
    expect(state).toBe('open');
  });

  it('a refresh for another user is refused with 4403', async () => {
    @Module({ imports: [WsModule], providers: [ExpiringAuth, Refresh] })
    class App {}
    running = await startApp(App);
    const client = connect(running, 'bob:60000');
    await client.next('wshub:welcome');
    client.ws.send(JSON.stringify({ event: 'wshub:refresh', id: 1, data: { token: 'alice:60000' } }));
    expect(await client.closed).toBe(4403);
  });

  it('without a SessionRefreshEvent handler nobody is asked to refresh, and the session ends with 4401', async () => {
    @Module({ imports: [WsModule], providers: [ExpiringAuth] })
    class App {}
    running = await startApp(App);
    const client = connect(running, 'bob:300');
    await client.next('wshub:welcome');
    expect(await client.closed).toBe(4401);
    expect(client.seen()).not.toContain('wshub:expiring');
  });
});
