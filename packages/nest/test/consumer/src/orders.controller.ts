import { Controller, HttpCode, Param, Post } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { SendMessageCommand } from '@wshub/nest';

@Controller('orders')
export class OrdersController {
  constructor(private readonly commandBus: CommandBus) {}

  @Post(':id/shipped')
  @HttpCode(202)
  async shipped(@Param('id') id: string): Promise<void> {
    await this.commandBus.execute(new SendMessageCommand('alice', 'order-status', { id, status: 'shipped' }, id));
  }
}
