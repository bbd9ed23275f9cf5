import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { Hub } from '@wshub/core';
import { Outbox, type OutboxRelay, type RelayTarget } from '@wshub/postgres';
import type { WsOutboxModuleOptions } from './ws-outbox.module.js';

/** The token of the module's options. */
export const WS_OUTBOX_OPTIONS = Symbol.for('@wshub/postgres:outbox-options');

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

