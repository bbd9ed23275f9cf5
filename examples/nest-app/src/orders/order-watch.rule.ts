import { EventsHandler, IEventHandler } from '@nestjs/cqrs';
import { IsAllowedToWatchEvent } from '@wshub/nest';
import type { DemoUser } from '../demo-users.js';
import { OrderStore } from './order-store.js';

/**
 * Who may watch `order-status`: an admin any order (or every order, with no
 * payload); a user only an order of their own. Other events are open.
 */
@EventsHandler(IsAllowedToWatchEvent)
export class OrderWatchRule implements IEventHandler<IsAllowedToWatchEvent<DemoUser>> {
  constructor(private readonly orders: OrderStore) {}

  handle(event: IsAllowedToWatchEvent<DemoUser>): void {
    if (event.event !== 'order-status') return;
    if (event.user?.role === 'admin') return;
    if (event.payload === null) return void event.output.push(Promise.resolve(false));
    const owner = this.orders.find(Number(event.payload)).then(
      (order) => order?.owner === event.userId,
      () => false, // the database is away: refused, not an error
    );
    event.output.push(owner);
  }
}
