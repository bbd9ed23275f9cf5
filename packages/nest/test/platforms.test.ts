/** The hub on the app's own HTTP server: Express, Fastify, and next to a @WebSocketGateway. */
import 'reflect-metadata';
import { Controller, Get, Module } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { WsAdapter } from '@nestjs/platform-ws';
import { MessageBody, SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import { SendMessageCommand, WsModule } from '@wshub/nest';
import { describe, expect, it } from 'vitest';
import { TokenAuthHandler } from './fixtures/token-auth.handler.js';
import { EventProbe } from './support/event-probe.js';
import { connectReady } from './support/sessions.js';
import { startApp } from './support/start-app.js';
import { TestSocket as TestClient } from '@wshub/test-support';

const PATH = '/api/v1/ws';

@Controller('health')
class HealthController {
  @Get()
  health(): { ok: true } {
    return { ok: true };
  }
}

@Module({ imports: [WsModule], controllers: [HealthController], providers: [TokenAuthHandler, EventProbe] })
class App {}

describe.each(['express', 'fastify'] as const)('on %s, with no WebSocket adapter set', (platform) => {
  it('serves the hub path and the HTTP routes on one server, and refuses other upgrade paths', async () => {
    const running = await startApp(App, { platform });
    try {
      const client = await connectReady(running, running.app.get(EventProbe), PATH, 'user=amy', 'amy', 'browser');
      await running.app.get(CommandBus).execute(new SendMessageCommand('amy', 'hello', { platform }));
      expect(await client.next()).toEqual({ event: 'hello', data: { platform } });
      const response = await fetch(running.httpUrl('/health'));
      expect(await response.json()).toEqual({ ok: true });
      expect(await running.connect('/elsewhere').refused).toBe(400);
    } finally {
      await running.close();
    }
  });
});

@WebSocketGateway({ path: '/other' })
class EchoGateway {
  @SubscribeMessage('echo')
  echo(@MessageBody() data: unknown): { event: string; data: unknown } {
    return { event: 'echo', data };
  }
}

@Module({ imports: [WsModule], providers: [TokenAuthHandler, EventProbe, EchoGateway] })
class GatewayApp {}

describe('next to a @WebSocketGateway on another path under @nestjs/platform-ws', () => {
  it('both serve their own paths on the same server', async () => {
    const running = await startApp(GatewayApp, { configure: (app) => app.useWebSocketAdapter(new WsAdapter(app)) });
    try {
      const hubClient = await connectReady(running, running.app.get(EventProbe), PATH, 'user=amy', 'amy', 'browser');
      const gatewayClient = new TestClient(running.wsUrl('/other'));
      await gatewayClient.opened;
      gatewayClient.emit('echo', { n: 1 });
      expect(await gatewayClient.next()).toEqual({ event: 'echo', data: { n: 1 } });
      await running.app.get(CommandBus).execute(new SendMessageCommand('amy', 'hello', 2));
      expect(await hubClient.next()).toEqual({ event: 'hello', data: 2 });
      gatewayClient.ws.terminate();
    } finally {
      await running.close();
    }
  });
});
