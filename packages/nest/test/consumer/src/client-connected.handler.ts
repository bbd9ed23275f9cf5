import { EventsHandler, IEventHandler } from '@nestjs/cqrs';
import { ClientConnectedEvent } from '@wshub/nest';
import { AppUser, AuthService } from './auth.service.js';

// Constructor injection by type: needs the design:paramtypes tsc emits.
@EventsHandler(ClientConnectedEvent)
export class ClientConnectedHandler implements IEventHandler<ClientConnectedEvent<AppUser>> {
  constructor(private readonly authService: AuthService) {}

  async handle(event: ClientConnectedEvent<AppUser>): Promise<void> {
    try {
      const token = new URL(event.incomingMessage.url, 'http://localhost').searchParams.get('token');
      event.resolve(await this.authService.validateToken(token));
    } catch (e) {
      event.reject(e);
    }
  }
}
