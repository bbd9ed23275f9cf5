/** forRoot / forRootAsync, the injectable WsHub, and CqrsModule set up by the app itself. */
import 'reflect-metadata';
import { Inject, Injectable, Module } from '@nestjs/common';
import { CommandBus, CqrsModule, EventBus } from '@nestjs/cqrs';
import { Exclude } from 'class-transformer';
import { ClientDisconnectedEvent, SendMessageCommand, WsHub, WsModule } from '@wshub/nest';
import { describe, expect, it } from 'vitest';
import { TokenAuthHandler } from './fixtures/token-auth.handler.js';
import { EventProbe } from './support/event-probe.js';
import { connectReady } from './support/sessions.js';
import { startApp } from './support/start-app.js';

const PATH = '/api/v1/ws';

describe('WsModule.forRoot(options)', () => {
  @Module({
    imports: [WsModule.forRoot({ authTimeoutMs: 150, limits: { maxWatchesPerSocket: 1 } })],
    providers: [TokenAuthHandler, EventProbe],
  })
  class App {}

  it('passes the core options to the hub', async () => {
    const running = await startApp(App);
    try {
      expect((await running.connect(PATH, 'user=hang').waitForClose()).code).toBe(4408);
      const client = await connectReady(running, running.app.get(EventProbe), PATH, 'user=amy', 'amy', 'browser');
      client.watch('a', '1');
      client.watch('b', '1');
      expect(await client.next()).toEqual({
        event: 'exception',
        data: { status: 'error', message: expect.stringContaining('at most 1 watches') },
      });
    } finally {
      await running.close();
    }
  });
});

describe('WsModule.forRoot({ serialize })', () => {
  class Secretive {
    id = 'o-7';
    @Exclude() secret = 'kept by the app’s own serializer';
  }

  @Module({
    imports: [WsModule.forRoot({ serialize: (data) => ({ wrapped: data }) })],
    providers: [TokenAuthHandler, EventProbe],
  })
  class App {}

  it('replaces class-transformer as the serializer of command data', async () => {
    const running = await startApp(App);
    try {
      const client = await connectReady(running, running.app.get(EventProbe), PATH, 'user=amy', 'amy', 'browser');
      await running.app.get(CommandBus).execute(new SendMessageCommand('amy', 'order', new Secretive()));
      expect(await client.next()).toEqual({
        event: 'order',
        data: { wrapped: { id: 'o-7', secret: 'kept by the app’s own serializer' } },
      });
    } finally {
      await running.close();
    }
  });
});

describe('WsModule.forRootAsync({ imports, inject, useFactory })', () => {
  const SETTINGS = Symbol('settings');

  @Module({ providers: [{ provide: SETTINGS, useValue: { wsPath: '/from-config' } }], exports: [SETTINGS] })
  class SettingsModule {}

  @Module({
    imports: [
      WsModule.forRootAsync({
        imports: [SettingsModule],
        inject: [SETTINGS],
        useFactory: async (settings: { wsPath: string }) => ({ path: settings.wsPath }),
      }),
    ],
    providers: [TokenAuthHandler, EventProbe],
  })
  class App {}

  it('builds the options from injected providers', async () => {
    const running = await startApp(App);
    try {
      await connectReady(running, running.app.get(EventProbe), '/from-config', 'user=amy', 'amy', 'browser');
      expect(await running.connect(PATH, 'user=amy').refused).toBe(400);
    } finally {
      await running.close();
    }
  });
});

describe('the WsHub is injectable anywhere (WsModule is global)', () => {
  // As the README's section 9: injected by type.
  @Injectable()
  class PresenceService {
    constructor(private readonly hub: WsHub) {}
    online(): string[] {
      return this.hub.connectedUsers();
    }
    devicesOf(userId: string): string[] {
      return this.hub.socketsOf(userId).map((socket) => socket.deviceFingerprint);
    }
    connections(): number {
      return this.hub.stats().connections;
    }
  }

  // A feature module that does not import WsModule.
  @Module({ providers: [PresenceService], exports: [PresenceService] })
  class PresenceModule {}

  @Module({ imports: [WsModule, PresenceModule], providers: [TokenAuthHandler, EventProbe] })
  class App {}

  it('reads connectedUsers(), socketsOf() and stats()', async () => {
    const running = await startApp(App);
    try {
      const probe = running.app.get(EventProbe);
      await connectReady(running, probe, PATH, 'user=amy&device=laptop', 'amy', 'laptop');
      await connectReady(running, probe, PATH, 'user=amy&device=phone', 'amy', 'phone');
      const presence = running.app.get(PresenceService);
      expect(presence.online()).toEqual(['amy']);
      expect(presence.devicesOf('amy').sort()).toEqual(['laptop', 'phone']);
      expect(presence.connections()).toBe(2);
    } finally {
      await running.close();
    }
  });
});

describe('with the app’s own CqrsModule.forRoot()', () => {
  @Injectable()
  class Notifier {
    constructor(
      @Inject(CommandBus) readonly commandBus: CommandBus,
      @Inject(EventBus) readonly eventBus: EventBus,
    ) {}
  }

  @Module({ imports: [CqrsModule.forRoot(), WsModule], providers: [TokenAuthHandler, EventProbe, Notifier] })
  class App {}

  it('commands and published events reach the module whichever bus the app holds', async () => {
    const running = await startApp(App);
    try {
      const probe = running.app.get(EventProbe);
      const client = await connectReady(running, probe, PATH, 'user=amy&device=laptop', 'amy', 'laptop');
      const { commandBus, eventBus } = running.app.get(Notifier);
      await commandBus.execute(new SendMessageCommand('amy', 'hello', 1));
      expect(await client.next()).toEqual({ event: 'hello', data: 1 });
      eventBus.publish(new ClientDisconnectedEvent('amy', 'laptop'));
      expect((await client.waitForClose()).code).toBe(4000);
    } finally {
      await running.close();
    }
  });
});
