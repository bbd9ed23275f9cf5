import {
  type DynamicModule,
  Inject,
  Injectable,
  Logger,
  Module,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { Hub } from '@wshub/core';
// The package's own main entry, not '../outbox.js': the built `nest` entry
// must inject the very `Outbox` class apps import (one copy in CommonJS too).
import { Outbox, type OutboxOptions, type OutboxRelay, type RelayOptions, type RelayTarget } from '@wshub/postgres';

/** The token of the module's options. */
export const WS_OUTBOX_OPTIONS = Symbol.for('@wshub/postgres:outbox-options');

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

/**
 * Starts the relay once the app (and its `WsModule` hub) is up and stops it
 * with the app. Its errors go to Nest's `Logger`.
 */
@Injectable()
export class OutboxRelayHost implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('WsOutboxModule');
  private relay: OutboxRelay | undefined;

  constructor(
    @Inject(Outbox) private readonly outbox: Outbox,
    @Inject(Hub) private readonly hub: RelayTarget,
    @Inject(WS_OUTBOX_OPTIONS) private readonly options: WsOutboxModuleOptions,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (this.options.install === true) await this.outbox.install();
    if (this.options.relay === false) return;
    this.relay = this.outbox.relay(this.hub, this.options.relay ?? {});
    this.relay.on('error', (error) => this.logger.error(error.message, error.stack));
  }

  /** The relay this app runs, if any (for health checks and tests). */
  get current(): OutboxRelay | undefined {
    return this.relay;
  }

  // Before or after the hub closes, either is safe: a relay whose hub is closing stops by itself.
  async onModuleDestroy(): Promise<void> {
    await this.relay?.close();
  }
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
      providers: [{ provide: WS_OUTBOX_OPTIONS, useValue: options }, outboxProvider, OutboxRelayHost],
      exports: [Outbox, OutboxRelayHost],
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
      ],
      exports: [Outbox, OutboxRelayHost],
    };
  }
}
