import { Inject } from '@nestjs/common';
import { CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { Hub, type HubUser } from '@wshub/core';
import { SendMessageCommand } from '../commands/send-message.command.js';

@CommandHandler(SendMessageCommand)
export class SendMessageHandler implements ICommandHandler<SendMessageCommand> {
  // Explicit tokens: the package is built without decorator metadata.
  constructor(@Inject(Hub) private readonly hub: Hub<HubUser>) {}

  execute({ userId, event, data, isWatchingOrPayload }: SendMessageCommand): Promise<string> {
    return this.hub.sendMessage(userId, event, data, isWatchingOrPayload);
  }
}
