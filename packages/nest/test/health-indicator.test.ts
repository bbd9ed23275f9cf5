/**
 * WsHubHealthIndicator in a real app with @nestjs/terminus: a readiness
 * endpoint that answers 200 while the hub serves and 503 from the moment
 * app.close() starts closing the hub, while it drains its sockets.
 */
import 'reflect-metadata';
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Controller, Get, Module } from '@nestjs/common';
import { HealthCheck, HealthCheckService, TerminusModule } from '@nestjs/terminus';
import { WsHubHealthIndicator, WsModule } from '@wshub/nest';
import { afterEach, describe, expect, it } from 'vitest';
import { TokenAuthHandler } from './fixtures/token-auth.handler.js';
import { type RunningApp, startApp } from './support/start-app.js';

const PATH = '/api/v1/ws';

@Controller('health')
class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly wsHub: WsHubHealthIndicator,
  ) {}

  @Get('ready')
  @HealthCheck()
  ready() {
    return this.health.check([() => this.wsHub.isHealthy()]);
  }
}

@Module({
  imports: [WsModule.forRoot({ closeTimeoutMs: 1500 }), TerminusModule],
  controllers: [HealthController],
  providers: [TokenAuthHandler],
})
class App {}

let running: RunningApp | undefined;
const raw: Socket[] = [];
afterEach(async () => {
  for (const socket of raw.splice(0)) socket.destroy();
  await running?.close();
  running = undefined;
});

/** An authorized WebSocket over a bare TCP socket that never answers a close frame: the drain waits for it. */
async function silentClient(port: number): Promise<void> {
  const socket = connect(port, '127.0.0.1');
  raw.push(socket);
  socket.write(
    `GET ${PATH}?user=mute HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
  );
  await new Promise<void>((resolve) => socket.once('data', () => resolve()));
}

describe('WsHubHealthIndicator with @nestjs/terminus', () => {
  it('is up while the hub serves, with what it checked', async () => {
    running = await startApp(App);
    const response = await fetch(running.httpUrl('/health/ready'));
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      status: 'ok',
      info: { wshub: { status: 'up', accepting: true, closing: false, broker: 'local', eventLoopDelayMs: expect.any(Number) } },
    });
  });

  it('answers 503 while app.close() drains the hub', async () => {
    running = await startApp(App);
    const { app } = running;
    await silentClient(running.port);
    const closed = app.close();
    await sleep(100);
    const response = await fetch(running.httpUrl('/health/ready'));
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({
      status: 'error',
      error: {
        wshub: {
          status: 'down',
          closing: true,
          accepting: false,
          problems: ['the hub is closing: it drains its sockets and accepts no connection'],
        },
      },
    });
    await closed;
    running = undefined;
  });

  it('takes another key and options', async () => {
    running = await startApp(App);
    const indicator = running.app.get(WsHubHealthIndicator);
    expect(indicator.isHealthy('sockets', { maxEventLoopDelayMs: 60_000 })).toEqual({
      sockets: expect.objectContaining({ status: 'up' }),
    });
  });
});
