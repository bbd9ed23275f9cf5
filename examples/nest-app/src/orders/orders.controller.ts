import { BadRequestException, Body, Controller, Get, HttpCode, Param, ParseIntPipe, Post } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { PushCommand, SendMessageCommand } from '@wshub/nest';
import type { DemoUser } from '../demo-users.js';
import { type Order, OrderStore } from './order-store.js';

@Controller('orders')
export class OrdersController {
  constructor(
    private readonly orders: OrderStore,
    private readonly commandBus: CommandBus,
  ) {}

  @Get()
  list(): Order[] {
    return this.orders.list();
  }

  /** Changes an order's status and tells the sockets that watch it. */
  @Post(':id/status')
  @HttpCode(202)
  async setStatus(@Param('id', ParseIntPipe) id: number, @Body() body: { status?: unknown }): Promise<Order> {
    const status = body?.status ?? 'shipped';
    if (typeof status !== 'string' || status.length === 0 || status.length > 40) {
      throw new BadRequestException('"status" must be a string of 1 to 40 characters');
    }
    const order = this.orders.setStatus(id, status);
    const update = { orderId: order.id, status: order.status };
    // The owner's sockets that watch this order (or every order).
    await this.commandBus.execute(new SendMessageCommand(order.owner, 'order-status', update, order.id));
    // Admins may watch any order: their sockets watching it get it too.
    await this.commandBus.execute(
      new PushCommand<DemoUser>('order-status', update, (user) => user.role === 'admin' && user.id !== order.owner, order.id),
    );
    return order;
  }
}
