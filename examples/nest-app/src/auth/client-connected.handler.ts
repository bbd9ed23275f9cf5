import { EventsHandler, IEventHandler } from '@nestjs/cqrs';
import { ClientConnectedEvent } from '@wshub/nest';
import { DEMO_ACCOUNTS, DemoUser } from '../demo-users.js';

/**
 * Demo token auth: `?token=bob-token&device=<tab id>`. An unknown token is
 * refused (the client gets 4403).
 */
@EventsHandler(ClientConnectedEvent)
export class ClientConnectedHandler implements IEventHandler<ClientConnectedEvent<DemoUser>> {
  handle(event: ClientConnectedEvent<DemoUser>): void {
    const query = new URL(event.incomingMessage.url, 'http://localhost').searchParams;
    const token = query.get('token') ?? '';
    // Own keys only: a token named "constructor" or "__proto__" is just unknown.
    const account = Object.hasOwn(DEMO_ACCOUNTS, token) ? DEMO_ACCOUNTS[token] : undefined;
    if (!account) {
      event.reject(new Error('unknown token'));
      return;
    }
    event.resolve({ ...account, deviceFingerprint: query.get('device') ?? 'browser' });
  }
}
