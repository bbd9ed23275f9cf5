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
    const order = event.payload === null ? undefined : this.orders.find(Number(event.payload));
    event.output.push(Promise.resolve(order?.owner === event.userId));
  }
}
