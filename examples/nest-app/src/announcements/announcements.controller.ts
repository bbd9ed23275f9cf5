import { BadRequestException, Body, Controller, HttpCode, Post } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { PushCommand } from '@wshub/nest';
import type { DemoUser } from '../demo-users.js';

@Controller('announcements')
export class AnnouncementsController {
  constructor(private readonly commandBus: CommandBus) {}

  /** Sends `announcement` to everyone connected, or to admins only. */
  @Post()
  @HttpCode(202)
  async announce(@Body() body: { text?: unknown; adminsOnly?: unknown }): Promise<{ sent: true }> {
    const text = body?.text ?? 'Maintenance in 10 minutes';
    if (typeof text !== 'string' || text.length === 0 || text.length > 200) {
      throw new BadRequestException('"text" must be a string of 1 to 200 characters');
    }
    const adminsOnly = body?.adminsOnly === true;
    await this.commandBus.execute(
      new PushCommand<DemoUser>(
        'announcement',
        { text, adminsOnly },
        adminsOnly ? (user) => user.role === 'admin' : undefined,
      ),
    );
    return { sent: true };
  }
}
