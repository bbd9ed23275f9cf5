import { Inject } from '@nestjs/common';
import { CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { type HubUser, WsHub } from '@wshub/core';
import { DisconnectWsClientCommand } from '../commands/disconnect-ws-client.command.js';

@CommandHandler(DisconnectWsClientCommand)
export class DisconnectWsClientHandler implements ICommandHandler<DisconnectWsClientCommand> {
  constructor(@Inject(WsHub) private readonly hub: WsHub<HubUser>) {}

  execute({ id, deviceFingerprint }: DisconnectWsClientCommand): Promise<void> {
    return this.hub.disconnect(id, deviceFingerprint);
  }
}
