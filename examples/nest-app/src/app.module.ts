import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { PrometheusModule } from '@willsoto/nestjs-prometheus';
import { WsModule } from '@wshub/nest';
import { AnnouncementsController } from './announcements/announcements.controller.js';
import { ClientConnectedHandler } from './auth/client-connected.handler.js';
import { SessionRefreshHandler } from './auth/session-refresh.handler.js';
import { TokenController } from './auth/token.controller.js';
import { DemoDatabase } from './database/demo-database.js';
import { DemoController } from './demo.controller.js';
import { HealthController } from './monitoring/health.controller.js';
import { HubActivity } from './monitoring/hub-activity.js';
import { HubMetrics } from './monitoring/hub-metrics.js';
import { OrderStore } from './orders/order-store.js';
import { OrderWatchRule } from './orders/order-watch.rule.js';
import { OrdersController } from './orders/orders.controller.js';
import { PingHandler } from './presence/ping.handler.js';
import { PresenceLogHandler } from './presence/presence-log.handler.js';
import { createWsOptions } from './ws-options.js';

@Module({
  imports: [
    WsModule.forRootAsync({ useFactory: () => createWsOptions() }),
    // GET /metrics: prom-client's global registry, with the hub's metrics (HubMetrics) and Node's own.
    PrometheusModule.register(),
    TerminusModule,
  ],
  controllers: [OrdersController, AnnouncementsController, DemoController, TokenController, HealthController],
  providers: [
    DemoDatabase,
    OrderStore,
    ClientConnectedHandler,
    SessionRefreshHandler,
    OrderWatchRule,
    PresenceLogHandler,
    PingHandler,
    HubMetrics,
    HubActivity,
  ],
})
export class AppModule {}
