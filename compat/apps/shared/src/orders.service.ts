import { Injectable } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { PushCommand, SendMessageCommand } from '@wshub/nest';
import { OrderStatusDto } from './order-status.dto';
import { User } from './user';

@Injectable()
export class OrdersService {
  constructor(private readonly commandBus: CommandBus) {}

  /** Bob's sockets watching this order get it, converted by class-transformer (no warehouseNote). */
  async ship(orderId: number): Promise<void> {
    await this.commandBus.execute(new SendMessageCommand('bob', 'order-status', new OrderStatusDto(orderId, 'shipped'), orderId));
  }

  /** Every user whose role is `user`, with their own id in the data. */
  async announce(text: string): Promise<void> {
    await this.commandBus.execute(
      new PushCommand<User>('announcement', (user) => ({ text, to: user.id }), (user) => user.role === 'user'),
    );
  }
}
