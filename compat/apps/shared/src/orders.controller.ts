import { Controller, HttpCode, Param, Post, Query } from '@nestjs/common';
import { OrdersService } from './orders.service';

@Controller()
export class OrdersController {
  constructor(private readonly orders: OrdersService) {}

  @Post('orders/:id/ship')
  @HttpCode(202)
  async ship(@Param('id') id: string): Promise<void> {
    await this.orders.ship(Number(id));
  }

  @Post('announcements')
  @HttpCode(202)
  async announce(@Query('text') text: string): Promise<void> {
    await this.orders.announce(text);
  }
}
