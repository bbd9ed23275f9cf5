import { Inject } from '@nestjs/common';
import { CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { Hub, type HubUser } from '@wshub/core';
import { DisconnectWsClientCommand } from '../commands/disconnect-ws-client.command.js';

@CommandHandler(DisconnectWsClientCommand)
export class DisconnectWsClientHandler implements ICommandHandler<DisconnectWsClientCommand> {
  constructor(@Inject(Hub) private readonly hub: Hub<HubUser>) {}

  execute({ id, deviceFingerprint }: DisconnectWsClientCommand): Promise<void> {
    return this.hub.disconnect(id, deviceFingerprint);
  }
}
