import { EventsHandler, IEventHandler } from '@nestjs/cqrs';
import { IsAllowedToWatchEvent } from '@wshub/nest';

const owners: Record<string, string> = { '42': 'alice' };

@EventsHandler(IsAllowedToWatchEvent)
export class IsAllowedToWatchHandler implements IEventHandler<IsAllowedToWatchEvent> {
  handle(event: IsAllowedToWatchEvent): void {
    event.output.push(Promise.resolve(event.payload !== null && owners[event.payload] === event.userId));
  }
}
