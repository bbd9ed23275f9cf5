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
  private closing = false;

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
    this.warnIfNothingHandlesSigterm(server);
  }

  /**
   * Without a SIGTERM listener (`app.enableShutdownHooks()`, which `nest new`
   * does not add, or the app's own handler) `docker stop` and Kubernetes end
   * the process at once: clients get 1006 instead of 1001, no
   * `ClientDisconnectedEvent` handler runs and readiness never answers 503.
   * Checked once the server listens, so a handler added right after
   * `await app.listen()` counts; not under a test runner (`NODE_ENV=test`),
   * whose apps are closed by `app.close()`, not by signals.
   */
  private warnIfNothingHandlesSigterm(server: { listening?: boolean; once(event: 'listening', listener: () => void): unknown }): void {
    if (process.env.NODE_ENV === 'test') return;
    const check = () =>
      setImmediate(() => {
        if (this.closing || process.listenerCount('SIGTERM') > 0) return;
        this.logger.warn(
          'Nothing listens for SIGTERM, so a stop signal (docker stop, a Kubernetes rollout) will end this process ' +
            'without closing the hub: clients get 1006 instead of 1001 and ClientDisconnectedEvent handlers do not run. ' +
            'Call app.enableShutdownHooks() before app.listen(), or close the app on SIGTERM yourself.',
        );
      });
    if (server.listening) check();
    else server.once('listening', check);
  }

  /**
   * Closing here, before the EventBus drops its handlers in its own
   * `onModuleDestroy`, lets the app's handlers see the `ClientDisconnectedEvent`
   * of every socket open at shutdown; `WsLifecycleModule` makes the order hold.
   */
  async onModuleDestroy(): Promise<void> {
    this.closing = true;
    await this.hub.close();
  }
}
