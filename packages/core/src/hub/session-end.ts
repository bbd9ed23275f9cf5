import type { HubContext } from './hub-context.js';
import type { HubUser } from '../config/options.js';
import type { SocketSession } from '../session/socket-session.js';

/**
 * The transport reported a session closed: it leaves the hub, and an
 * authorized one its watches and its room (the user's last socket on this
 * node tells the cluster, for presence); then `'disconnected'`, with the
 * code the hub chose when it chose one.
 */
export function sessionEnded<User extends HubUser, S extends object>(
  ctx: HubContext<User, S>,
  session: SocketSession<User, S>,
  code: number,
  reason: string,
): void {
  ctx.sessions.delete(session);
  const authorized = session.isAdmitted();
  if (authorized) {
    ctx.watches.removeAll(session);
    ctx.receipts?.ended(session);
    if (ctx.rooms.remove(session.userId, session)) ctx.cluster.left(session.userId);
  }
  ctx.notifier.emit('disconnected', {
    socket: session.socket,
    userId: authorized ? session.userId : undefined,
    deviceFingerprint: authorized ? session.deviceFingerprint : undefined,
    ...session.closeInfo(code, reason),
    authorized,
  });
}
