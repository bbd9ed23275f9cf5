/** The README's path override: mutate the shared path object before WsModule is imported. */
import 'reflect-metadata';
import './fixtures/ws-path.js'; // ← must come first
import { Module } from '@nestjs/common';
import { WsModule } from '@wshub/nest';
import { describe, expect, it } from 'vitest';
import { TokenAuthHandler } from './fixtures/token-auth.handler.js';
import { EventProbe } from './support/event-probe.js';
import { RecordingLogger } from './support/recording-logger.js';
import { connectReady } from './support/sessions.js';
import { startApp } from './support/start-app.js';

describe('path override through @wshub/nest/dist/path', () => {
  @Module({ imports: [WsModule], providers: [TokenAuthHandler, EventProbe] })
  class AppModule {}

  it('serves the path set before WsModule was imported, and not the default', async () => {
    const logger = new RecordingLogger();
    const running = await startApp(AppModule, { logger });
    try {
      expect(logger.from('WsModule').map((e) => [e.level, e.message])).toEqual([
        ['log', 'Serving WebSocket clients on /api/v2/ws'],
      ]);
      const client = await connectReady(running, running.app.get(EventProbe), '/api/v2/ws', 'user=amy', 'amy', 'browser');
      expect(client.ws.readyState).toBe(client.ws.OPEN);
      expect(await running.connect('/api/v1/ws', 'user=amy').refused).toBe(400);
    } finally {
      await running.close();
    }
  });
});

describe('forRoot({ path }) wins over the path object', () => {
  @Module({ imports: [WsModule.forRoot({ path: '/live' })], providers: [TokenAuthHandler, EventProbe] })
  class AppModule {}

  it('serves the forRoot path only, and says so once at startup', async () => {
    const logger = new RecordingLogger();
    const running = await startApp(AppModule, { logger });
    try {
      expect(logger.from('WsModule').map((e) => e.message)).toEqual(['Serving WebSocket clients on /live']);
      await connectReady(running, running.app.get(EventProbe), '/live', 'user=amy', 'amy', 'browser');
      expect(await running.connect('/api/v2/ws', 'user=amy').refused).toBe(400);
    } finally {
      await running.close();
    }
  });
});
