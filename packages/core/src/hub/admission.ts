import { HubError } from '../protocol/errors.js';
import type { HandshakeOutcome } from '../session/handshake.js';
import type { HubContext } from './hub-context.js';
import type { HubSocket } from './hub-types.js';
import type { HubUser } from '../config/options.js';
import { CloseCode, WELCOME, type Welcome } from '../protocol/protocol.js';
import { scheduleExpiry } from './session-expiry.js';
import { limitSockets } from './socket-cap.js';
import type { SocketSession } from '../session/socket-session.js';

/**
 * Runs `admit` once the history knows the position a v2 socket's welcome
 * gives (a shared history learns its epoch from its store after the hub
 * started), or after `authTimeoutMs` (the welcome then says the position is
 * unknown: epoch ""). Meanwhile the socket stays pending: its frames wait,
 * within the pending budget, and so does its resume.
 */
export function whenPositionKnown<User extends HubUser, S extends object>(
  ctx: HubContext<User, S>,
  session: SocketSession<User, S>,
  admit: () => void,
): void {
  const history = ctx.cluster.history;
  const known = session.v2 && history?.position().epoch === '' ? history.positionKnown?.() : undefined;
  if (!known) {
    admit();
    return;
  }
  const go = () => {
    clearTimeout(timer);
    if (session.phase === 'pending') admit();
  };
  const timer = setTimeout(go, ctx.config.authTimeoutMs);
  timer.unref();
  known.then(go, go);
}

/**
 * The end of `authenticate`: a refused or late socket is closed (4403,
 * 4408); an accepted one joins its user's room (and the cluster's presence),
 * goes through the socket cap, is announced with `'ready'`, gets its welcome
 * (v2) and its expiry, and then its kept frames are handled.
 */
export function settleHandshake<User extends HubUser, S extends object>(
  ctx: HubContext<User, S>,
  session: SocketSession<User, S>,
  outcome: HandshakeOutcome<User>,
): void {
  if (outcome.kind === 'timeout') {
    ctx.counters.authTimeouts++;
    session.close(CloseCode.AuthTimeout);
    return;
  }
  if (outcome.kind === 'refused') {
    if (outcome.problem) {
      ctx.report(new HubError('authenticate', `wshub: authenticate resolved ${outcome.problem}; the socket was refused with 4403`));
    }
    ctx.counters.authRejected++;
    // The reason is the app's business: the client gets a fixed token, never the error text.
    session.close(CloseCode.Forbidden);
    return;
  }
  const user = outcome.user;
  session.admit(user);
  if (ctx.rooms.add(user.id, session)) ctx.cluster.joined(user.id, user);
  limitSockets(ctx, user.id);
  if (session.phase !== 'ready') return;
  ctx.notifier.emit('ready', { socket: session.socket as HubSocket<User, S>, user });
  if (session.v2 && session.phase === 'ready') {
    const history = ctx.cluster.history;
    const welcome: Welcome = history ? { protocol: 2, recovery: history.position() } : { protocol: 2 };
    ctx.delivery.reply(session, WELCOME, welcome);
  }
  scheduleExpiry(ctx, session);
  session.flushPending();
}
