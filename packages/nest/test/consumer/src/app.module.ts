import './ws/path.js'; // ← must come first
import { Module } from '@nestjs/common';
import { WsModule } from '@wshub/nest';
import { AuthService } from './auth.service.js';
import { ClientConnectedHandler } from './client-connected.handler.js';
import { IsAllowedToWatchHandler } from './is-allowed-to-watch.handler.js';
import { OrdersController } from './orders.controller.js';
import { PingHandler } from './ping.handler.js';

@Module({
  imports: [WsModule],
  controllers: [OrdersController],
  providers: [AuthService, ClientConnectedHandler, IsAllowedToWatchHandler, PingHandler],
})
export class AppModule {}
