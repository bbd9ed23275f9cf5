/** The module in the app's life: start without an adapter, a missing auth handler, shutdown. */
import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ClientDisconnectedEvent, WsModule } from '@wshub/nest';
import { describe, expect, it } from 'vitest';
import { TokenAuthHandler } from './fixtures/token-auth.handler.js';
import { EventProbe } from './support/event-probe.js';
import { RecordingLogger } from './support/recording-logger.js';
import { connectReady } from './support/sessions.js';
import { startApp } from './support/start-app.js';

const PATH = '/api/v1/ws';

describe('without a ClientConnectedEvent handler', () => {
  @Module({ imports: [WsModule.forRoot({ authTimeoutMs: 200 })] })
  class NoAuthApp {}

  it('closes every client with 4408 and logs the missing handler once', async () => {
    const logger = new RecordingLogger();
    const running = await startApp(NoAuthApp, { logger });
    try {
      const first = running.connect(PATH);
      expect((await first.waitForClose()).code).toBe(4408);
      const second = running.connect(PATH);
      expect((await second.waitForClose()).code).toBe(4408);
      const said = logger.entries.filter((e) => e.message.includes('ClientConnectedEvent'));
      expect(said).toHaveLength(1);
      expect(said[0]).toMatchObject({ level: 'error', context: 'WsModule' });
    } finally {
      await running.close();
    }
  });

  it('says nothing more than the path it serves when a handler is registered', async () => {
    @Module({ imports: [WsModule.forRoot({ authTimeoutMs: 200 })], providers: [TokenAuthHandler, EventProbe] })
    class AuthApp {}
    const logger = new RecordingLogger();
    const running = await startApp(AuthApp, { logger });
    try {
      await connectReady(running, running.app.get(EventProbe), PATH, 'user=amy', 'amy', 'browser');
      expect(logger.entries.filter((e) => e.context === 'WsModule')).toEqual([
        { level: 'log', message: 'Serving WebSocket clients on /api/v1/ws', context: 'WsModule' },
      ]);
    } finally {
      await running.close();
    }
  });
});

describe('app.close() closes the hub gracefully', () => {
  @Module({ imports: [WsModule], providers: [TokenAuthHandler, EventProbe] })
  class App {}

  it('closes clients with 1001 and still publishes their ClientDisconnectedEvent to the app', async () => {
    const running = await startApp(App);
    const probe = running.app.get(EventProbe);
    const alice = await connectReady(running, probe, PATH, 'user=alice&device=laptop', 'alice', 'laptop');
    const bob = await connectReady(running, probe, PATH, 'user=bob&device=phone', 'bob', 'phone');
    await running.app.close();
    expect((await alice.waitForClose()).code).toBe(1001);
    expect((await bob.waitForClose()).code).toBe(1001);
    const gone = probe.unclaimed(ClientDisconnectedEvent).map((e) => `${e.id}/${e.deviceFingerprint}`);
    expect(gone.sort()).toEqual(['alice/laptop', 'bob/phone']);
  });
});

describe('an app context without an HTTP server', () => {
  @Module({ imports: [WsModule], providers: [TokenAuthHandler] })
  class App {}

  it('starts, and logs that the path is not served', async () => {
    const logger = new RecordingLogger();
    const context = await NestFactory.createApplicationContext(App, { logger });
    await context.close();
    const said = logger.from('WsModule');
    expect(said).toHaveLength(1);
    expect(said[0]?.message).toContain('/api/v1/ws is not served');
  });
});
