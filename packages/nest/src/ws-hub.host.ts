import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { Hub, type HubUser, WsHub } from '@wshub/core';

/**
 * Serves the hub on the app's own HTTP server (Express or Fastify) — no
 * `useWebSocketAdapter()` — and closes it with the app: clients get 1001.
 */
@Injectable()
export class WsHubHost implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('WsModule');

  constructor(
    @Inject(Hub) private readonly hub: Hub<HubUser>,
    @Inject(HttpAdapterHost) private readonly adapterHost: HttpAdapterHost,
  ) {}

  onApplicationBootstrap(): void {
    // A hub from WS_HUB_FACTORY (a test fake) serves no HTTP path.
    const hub = this.hub;
    if (!(hub instanceof WsHub)) return;
    const server = this.adapterHost.httpAdapter?.getHttpServer();
    if (!server) {
      this.logger.warn(
        `The app has no HTTP server, so ${hub.path} is not served; ` +
          'inject WsHub and call hub.attach(server) or hub.handleUpgrade(req, socket, head) yourself.',
      );
      return;
    }
    // Core routes its own path ahead of other 'upgrade' listeners, so gateways on other paths keep working.
    hub.attach(server);
    // Said once, so an app whose path comes from @wshub/nest/dist/path or forRoot() can see which one won.
    this.logger.log(`Serving WebSocket clients on ${hub.path}`);
  }

  /**
   * Closing here, before the EventBus drops its handlers in its own
   * `onModuleDestroy`, lets the app's handlers see the `ClientDisconnectedEvent`
   * of every socket open at shutdown; `WsLifecycleModule` makes the order hold.
   */
  async onModuleDestroy(): Promise<void> {
    await this.hub.close();
  }
}
