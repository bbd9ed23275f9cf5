import { Inject } from '@nestjs/common';
import { EventsHandler, type IEventHandler } from '@nestjs/cqrs';
import { Hub, type HubUser } from '@wshub/core';
import { ClientDisconnectedEvent } from '../events/client-disconnected.event.js';
import { isPublishedByModule } from '../own-events.js';

/** An app that publishes `ClientDisconnectedEvent` asks for those sockets to be closed, on every node. */
@EventsHandler(ClientDisconnectedEvent)
export class ClientDisconnectedHandler implements IEventHandler<ClientDisconnectedEvent> {
  constructor(@Inject(Hub) private readonly hub: Hub<HubUser>) {}

  handle(event: ClientDisconnectedEvent): Promise<void> | undefined {
    // The module's own report of a closed socket is news, not a request.
    if (isPublishedByModule(event)) return undefined;
    return this.hub.disconnect(event.id, event.deviceFingerprint);
  }
}
