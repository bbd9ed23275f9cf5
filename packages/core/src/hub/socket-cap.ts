import type { HubContext } from './hub-context.js';
import type { HubUser } from '../config/options.js';
import { CloseCode } from '../protocol/protocol.js';

/**
 * `limits.maxSocketsPerUser` on this node: when a newly admitted socket puts
 * a user over it, the oldest sockets go, with 4409, so the newest (the one a
 * user just opened) stays.
 */
export function limitSockets<User extends HubUser, S extends object>(ctx: HubContext<User, S>, userId: string): void {
  const room = ctx.rooms.get(userId);
  const max = ctx.config.limits.maxSocketsPerUser;
  if (!room || room.size <= max) return;
  let excess = room.size - max;
  for (const session of [...room]) {
    if (excess-- <= 0) break;
    session.close(CloseCode.TooManySockets);
  }
}
