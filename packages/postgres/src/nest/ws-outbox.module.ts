import { type DynamicModule, Module } from '@nestjs/common';
// The package's own main entry, not '../outbox.js': the built `nest` entry
// must inject the very `Outbox` class apps import (one copy in CommonJS too).
import { Outbox, type OutboxOptions, type RelayOptions } from '@wshub/postgres';
import { OutboxRelayHost, WS_OUTBOX_OPTIONS } from './outbox-relay.host.js';
import { WsOutboxHealthIndicator } from './ws-outbox.health-indicator.js';

export { OutboxRelayHost, WS_OUTBOX_OPTIONS };

export interface WsOutboxModuleOptions extends OutboxOptions {
  /**
   * Run `outbox.install()` when the app boots (else apply `outbox.sql` in a migration).
   * @default false
   */
  install?: boolean;
  /**
   * The relay's options, or `false` for an app that only writes to the outbox
   * (its relay runs elsewhere).
   * @default {}
   */
  relay?: RelayOptions | false;
}

export interface WsOutboxModuleAsyncOptions {
  imports?: DynamicModule['imports'];
  /** Providers passed to `useFactory`, in order. */
  inject?: any[];
  useFactory: (...args: any[]) => WsOutboxModuleOptions | Promise<WsOutboxModuleOptions>;
}

const outboxProvider = {
  provide: Outbox,
  useFactory: (options: WsOutboxModuleOptions) => new Outbox(options),
  inject: [WS_OUTBOX_OPTIONS],
};

/**
 * `Outbox` for the app's services, and its relay started and stopped with
 * the app; needs `WsModule` (from `@wshub/nest`) for the hub.
 *
 * ```ts
 * @Module({ imports: [WsModule.forRoot(), WsOutboxModule.forRoot({ pool })] })
 * ```
 */
@Module({})
export class WsOutboxModule {
  static forRoot(options: WsOutboxModuleOptions): DynamicModule {
    return {
      module: WsOutboxModule,
      global: true,
      providers: [{ provide: WS_OUTBOX_OPTIONS, useValue: options }, outboxProvider, OutboxRelayHost, WsOutboxHealthIndicator],
      exports: [Outbox, OutboxRelayHost, WsOutboxHealthIndicator],
    };
  }

  static forRootAsync(options: WsOutboxModuleAsyncOptions): DynamicModule {
    return {
      module: WsOutboxModule,
      global: true,
      imports: options.imports ?? [],
      providers: [
        { provide: WS_OUTBOX_OPTIONS, useFactory: options.useFactory, inject: options.inject ?? [] },
        outboxProvider,
        OutboxRelayHost,
        WsOutboxHealthIndicator,
      ],
      exports: [Outbox, OutboxRelayHost, WsOutboxHealthIndicator],
    };
  }
}
