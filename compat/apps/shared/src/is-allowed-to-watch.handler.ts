import { EventsHandler, IEventHandler } from '@nestjs/cqrs';
import { IsAllowedToWatchEvent } from '@wshub/nest';
import { User } from './user';

/** Bob owns order 42; admins may watch every order. */
@EventsHandler(IsAllowedToWatchEvent)
export class IsAllowedToWatchHandler implements IEventHandler<IsAllowedToWatchEvent<User>> {
  handle(event: IsAllowedToWatchEvent<User>): void {
    if (event.event !== 'order-status') return;
    event.output.push(Promise.resolve(event.user?.role === 'admin' || event.payload === '42'));
  }
}
