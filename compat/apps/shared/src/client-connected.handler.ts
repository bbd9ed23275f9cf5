import { EventsHandler, IEventHandler } from '@nestjs/cqrs';
import { ClientConnectedEvent } from '@wshub/nest';
import { User } from './user';

const users: Record<string, Omit<User, 'deviceFingerprint'>> = {
  'bob-token': { id: 'bob', role: 'user' },
  'alice-token': { id: 'alice', role: 'admin' },
};

@EventsHandler(ClientConnectedEvent)
export class ClientConnectedHandler implements IEventHandler<ClientConnectedEvent<User>> {
  handle(event: ClientConnectedEvent<User>): void {
    const url = new URL(event.incomingMessage.url, 'http://localhost');
    const user = users[url.searchParams.get('token') ?? ''];
    if (user) event.resolve({ ...user, deviceFingerprint: url.searchParams.get('device') ?? 'phone' });
    else event.reject(new Error('invalid token'));
  }
}
