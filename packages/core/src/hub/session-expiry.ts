import { HubError } from '../protocol/errors.js';
import type { HubContext } from './hub-context.js';
import type { HubUser } from '../config/options.js';
import { EXPIRING } from '../protocol/protocol.js';
import type { SocketSession } from '../session/socket-session.js';

/**
 * Schedules the end of a session at its user's `expiresAt` (closed with
 * 4401), and tells a v2 client `refreshAheadMs` ahead when the app has a
 * `refresh` hook. Called once a socket is admitted and after each refresh;
 * a user without `expiresAt` clears the schedule.
 */
export function scheduleExpiry<User extends HubUser, S extends object>(
  ctx: HubContext<User, S>,
  session: SocketSession<User, S>,
): void {
  const expiresAt = session.user?.expiresAt;
  if (expiresAt !== undefined && (typeof expiresAt !== 'number' || !Number.isFinite(expiresAt))) {
    ctx.report(new HubError('authenticate', `wshub: a user's "expiresAt" must be a number of ms since the epoch, got ${String(expiresAt)}; the session does not expire`));
    return;
  }
  const notice =
    session.v2 && ctx.refresh && expiresAt !== undefined
      ? () => ctx.delivery.reply(session, EXPIRING, { expiresAt })
      : undefined;
  session.expireAt(expiresAt, ctx.config.refreshAheadMs, notice);
}
