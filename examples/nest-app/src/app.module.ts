import { Module } from '@nestjs/common';
import { WsModule } from '@wshub/nest';
import { AnnouncementsController } from './announcements/announcements.controller.js';
import { ClientConnectedHandler } from './auth/client-connected.handler.js';
import { SessionRefreshHandler } from './auth/session-refresh.handler.js';
import { TokenController } from './auth/token.controller.js';
import { DemoController } from './demo.controller.js';
import { OrderStore } from './orders/order-store.js';
import { OrderWatchRule } from './orders/order-watch.rule.js';
import { OrdersController } from './orders/orders.controller.js';
import { PingHandler } from './presence/ping.handler.js';
import { PresenceLogHandler } from './presence/presence-log.handler.js';
import { createWsOptions } from './ws-options.js';

@Module({
  imports: [WsModule.forRootAsync({ useFactory: () => createWsOptions() })],
  controllers: [OrdersController, AnnouncementsController, DemoController, TokenController],
  providers: [OrderStore, ClientConnectedHandler, SessionRefreshHandler, OrderWatchRule, PresenceLogHandler, PingHandler],
})
export class AppModule {}
