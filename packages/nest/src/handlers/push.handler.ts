import { Inject } from '@nestjs/common';
import { CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { Hub, type HubUser, type PushAllow } from '@wshub/core';
import { PushCommand } from '../commands/push.command.js';

@CommandHandler(PushCommand)
export class PushHandler implements ICommandHandler<PushCommand> {
  constructor(@Inject(Hub) private readonly hub: Hub<HubUser>) {}

  execute({ event, data, allow, isWatchingOrPayload }: PushCommand): Promise<string> {
    return this.hub.push(event, data, allow as PushAllow<HubUser> | undefined, isWatchingOrPayload);
  }
}
