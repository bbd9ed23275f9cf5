import { EventsHandler, IEventHandler } from '@nestjs/cqrs';
import { ClientConnectedEvent } from '@wshub/nest';
import type { DemoUser } from '../demo-users.js';
import { verifyToken } from './demo-tokens.js';

/**
 * Demo token auth: `?token=<token>&device=<tab id>`. The page gets a
 * short-lived signed token from `GET /demo/token` (its `expiresAt` makes the
 * session expire; `SessionRefreshHandler` renews it); the accounts' own
 * tokens (`bob-token`) work too, without expiry. An unknown token is refused
 * (the client gets 4403).
 */
@EventsHandler(ClientConnectedEvent)
export class ClientConnectedHandler implements IEventHandler<ClientConnectedEvent<DemoUser>> {
  handle(event: ClientConnectedEvent<DemoUser>): void {
    const query = new URL(event.incomingMessage.url, 'http://localhost').searchParams;
    const user = verifyToken(query.get('token') ?? '', query.get('device') ?? 'browser');
    if (user) event.resolve(user);
    else event.reject(new Error('unknown token'));
  }
}
