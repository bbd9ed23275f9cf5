import { type DynamicModule, Global, Module } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import { Hub, WsHub } from '@wshub/core';
import { ClientDisconnectedHandler } from './handlers/client-disconnected.handler.js';
import { DisconnectWsClientHandler } from './handlers/disconnect-ws-client.handler.js';
import { PushHandler } from './handlers/push.handler.js';
import { SendMessageHandler } from './handlers/send-message.handler.js';
import { UpdateWsClientHandler } from './handlers/update-ws-client.handler.js';
import { WS_MODULE_OPTIONS, type WsModuleAsyncOptions, type WsModuleOptions } from './ws-module-options.js';
import { WsHubHealthIndicator } from './ws-hub.health-indicator.js';
import { hubProvider, wsHubProvider } from './ws-hub.provider.js';
import { WsLifecycleModule } from './ws-lifecycle.module.js';

/**
 * The WebSocket module. `imports: [WsModule]` serves `/api/v1/ws` (or the
 * path set through `@wshub/nest/dist/path`) on the app's HTTP server;
 * `WsModule.forRoot(options)` / `forRootAsync(...)` configure the hub.
 *
 * Global, so the one hub is injectable everywhere, as `Hub` (and as
 * `WsHub` when it runs on `ws`, as it does outside tests); it re-exports
 * `CqrsModule`, so `CommandBus` and `EventBus` are available to the
 * importing module as `@kovalenko/nestjs-websocket`'s README shows. Import it once.
 */
@Global()
@Module({
  imports: [WsLifecycleModule, CqrsModule],
  providers: [
    hubProvider,
    wsHubProvider,
    SendMessageHandler,
    PushHandler,
    DisconnectWsClientHandler,
    UpdateWsClientHandler,
    ClientDisconnectedHandler,
    WsHubHealthIndicator,
  ],
  exports: [Hub, WsHub, WsHubHealthIndicator, CqrsModule],
})
export class WsModule {
  /** Configures the hub; `options.path` wins over `@wshub/nest/dist/path`. */
  static forRoot(options: WsModuleOptions = {}): DynamicModule {
    return {
      module: WsModule,
      providers: [{ provide: WS_MODULE_OPTIONS, useValue: options }],
    };
  }

  /** Configures the hub from other providers, e.g. `ConfigService`. */
  static forRootAsync(options: WsModuleAsyncOptions): DynamicModule {
    return {
      module: WsModule,
      imports: options.imports ?? [],
      providers: [{ provide: WS_MODULE_OPTIONS, useFactory: options.useFactory, inject: options.inject ?? [] }],
    };
  }
}
