import { CommandBus, EventsHandler, IEventHandler } from '@nestjs/cqrs';
import { ClientMessageEvent, SendMessageCommand } from '@wshub/nest';

/**
 * A client event the app handles itself: `ping` is answered with `pong` on
 * the user's sockets. Frames of one socket are handled in order, so a `pong`
 * also tells the page that its earlier `watch` frames have been applied.
 */
@EventsHandler(ClientMessageEvent)
export class PingHandler implements IEventHandler<ClientMessageEvent> {
  constructor(private readonly commandBus: CommandBus) {}

  async handle({ userId, event, data }: ClientMessageEvent): Promise<void> {
    if (event !== 'ping') return;
    await this.commandBus.execute(new SendMessageCommand(userId, 'pong', data ?? null));
  }
}
