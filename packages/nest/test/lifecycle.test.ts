/** The module in the app's life: start without an adapter, a missing auth handler, shutdown. */
import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ClientDisconnectedEvent, WsModule } from '@wshub/nest';
import { afterEach, describe, expect, it, vi } from 'vitest';
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

describe('an app that nothing closes on SIGTERM', () => {
  @Module({ imports: [WsModule], providers: [TokenAuthHandler] })
  class App {}

  const shutdownWarnings = (logger: RecordingLogger) =>
    logger.from('WsModule').filter((entry) => entry.level === 'warn' && entry.message.includes('SIGTERM'));
  const afterListening = () => new Promise((resolve) => setImmediate(resolve));

  // Under a test runner (NODE_ENV=test) the check is off; these apps pretend to be deployed.
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('is warned once it listens: clients would get 1006, and enableShutdownHooks() is the fix', async () => {
    vi.stubEnv('NODE_ENV', 'production');
    const logger = new RecordingLogger();
    const running = await startApp(App, { logger });
    try {
      await afterListening();
      expect(shutdownWarnings(logger)).toEqual([
        expect.objectContaining({ message: expect.stringMatching(/1006 instead of 1001.*app\.enableShutdownHooks\(\)/) }),
      ]);
    } finally {
      await running.close();
    }
  });

  it('is not warned with app.enableShutdownHooks()', async () => {
    vi.stubEnv('NODE_ENV', 'production');
    const logger = new RecordingLogger();
    const running = await startApp(App, { logger, configure: (app) => app.enableShutdownHooks() });
    try {
      await afterListening();
      expect(shutdownWarnings(logger)).toEqual([]);
    } finally {
      await running.close();
    }
  });

  it('is not warned with its own SIGTERM handler, added right after listen()', async () => {
    vi.stubEnv('NODE_ENV', 'production');
    const logger = new RecordingLogger();
    const app = await NestFactory.create(App, { logger });
    const handler = () => void app.close();
    try {
      await app.listen(0, '127.0.0.1');
      process.once('SIGTERM', handler);
      await afterListening();
      expect(shutdownWarnings(logger)).toEqual([]);
    } finally {
      process.off('SIGTERM', handler);
      await app.close();
    }
  });

  it('is not warned under a test runner (NODE_ENV=test)', async () => {
    const logger = new RecordingLogger();
    const running = await startApp(App, { logger });
    try {
      await afterListening();
      expect(shutdownWarnings(logger)).toEqual([]);
    } finally {
      await running.close();
    }
  });
});
