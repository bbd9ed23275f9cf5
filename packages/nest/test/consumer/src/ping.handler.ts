import { CommandBus, EventsHandler, IEventHandler } from '@nestjs/cqrs';
import { ClientMessageEvent, SendMessageCommand } from '@wshub/nest';

/** Answers a client's `ping` on that device: frames are handled in order, so a `pong` means "all before it is done". */
@EventsHandler(ClientMessageEvent)
export class PingHandler implements IEventHandler<ClientMessageEvent> {
  constructor(private readonly commandBus: CommandBus) {}

  async handle({ userId, event, data }: ClientMessageEvent): Promise<void> {
    if (event === 'ping') await this.commandBus.execute(new SendMessageCommand(userId, 'pong', data));
  }
}
