import { Logger } from '@nestjs/common';
import { EventsHandler, IEventHandler } from '@nestjs/cqrs';
import { ClientDisconnectedEvent, ClientReadyEvent } from '@wshub/nest';

/** Logs who comes and goes, so a person running the demo sees the hub at work. */
@EventsHandler(ClientReadyEvent, ClientDisconnectedEvent)
export class PresenceLogHandler implements IEventHandler<ClientReadyEvent | ClientDisconnectedEvent> {
  private readonly logger = new Logger('Presence');

  handle(event: ClientReadyEvent | ClientDisconnectedEvent): void {
    if (event instanceof ClientReadyEvent) this.logger.log(`${event.userId} connected (${event.deviceFingerprint})`);
    else this.logger.log(`${event.id} disconnected (${event.deviceFingerprint})`);
  }
}
