import { BadRequestException, Body, Controller, Get, HttpCode, Param, ParseIntPipe, Post } from '@nestjs/common';
import { type Order, OrderStore } from './order-store.js';

@Controller('orders')
export class OrdersController {
  constructor(private readonly orders: OrderStore) {}

  @Get()
  list(): Promise<Order[]> {
    return this.orders.list();
  }

  /**
   * Changes an order's status; the notification to the sockets that watch
   * it goes through the outbox, in the same transaction. `"rollback": true`
   * does all of it and then rolls the transaction back: the status stays,
   * and nothing is sent.
   */
  @Post(':id/status')
  @HttpCode(202)
  async setStatus(@Param('id', ParseIntPipe) id: number, @Body() body: { status?: unknown; rollback?: unknown }): Promise<Order> {
    const status = body?.status ?? 'shipped';
    if (typeof status !== 'string' || status.length === 0 || status.length > 40) {
      throw new BadRequestException('"status" must be a string of 1 to 40 characters');
    }
    if (body?.rollback !== undefined && typeof body.rollback !== 'boolean') {
      throw new BadRequestException('"rollback" must be true or false');
    }
    return this.orders.setStatus(id, status, body?.rollback === true);
  }
}
