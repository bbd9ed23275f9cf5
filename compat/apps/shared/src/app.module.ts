import './ws/path'; // ← first, before @wshub/nest
import { Module } from '@nestjs/common';
import { WsModule } from '@wshub/nest';
import { ClientConnectedHandler } from './client-connected.handler';
import { IsAllowedToWatchHandler } from './is-allowed-to-watch.handler';
import { OrdersController } from './orders.controller';
import { OrdersService } from './orders.service';

@Module({
  imports: [WsModule],
  controllers: [OrdersController],
  providers: [ClientConnectedHandler, IsAllowedToWatchHandler, OrdersService],
})
export class AppModule {}
