import { EventsHandler, IEventHandler } from '@nestjs/cqrs';
import { SessionRefreshEvent } from '@wshub/nest';
import type { DemoUser } from '../demo-users.js';
import { verifyToken } from './demo-tokens.js';

/**
 * A page renewing its session on the open socket before the token expires:
 * a fresh token for the same user keeps the socket, its watches and its
 * messages; anything else closes it with 4403.
 */
@EventsHandler(SessionRefreshEvent)
export class SessionRefreshHandler implements IEventHandler<SessionRefreshEvent<DemoUser>> {
  handle(event: SessionRefreshEvent<DemoUser>): void {
    const user = verifyToken(event.token, event.deviceFingerprint);
    if (user?.id === event.userId) event.resolve(user);
    else event.reject(new Error('invalid or foreign token'));
  }
}
