import { Inject } from '@nestjs/common';
import { CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { Hub, type HubUser } from '@wshub/core';
import { UpdateWsClientCommand } from '../commands/update-ws-client.command.js';

@CommandHandler(UpdateWsClientCommand)
export class UpdateWsClientHandler implements ICommandHandler<UpdateWsClientCommand> {
  constructor(@Inject(Hub) private readonly hub: Hub<HubUser>) {}

  execute({ user }: UpdateWsClientCommand): Promise<void> {
    return this.hub.updateUser(user as HubUser);
  }
}
