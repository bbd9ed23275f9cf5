import { HubError } from '../protocol/errors.js';
import type { OpenOptions, Session } from '../session/connection.js';
import { type HandshakeOutcome, runHandshake } from '../session/handshake.js';
import { SocketSession } from '../session/socket-session.js';
import { traceHandshake } from './handshake-span.js';
import { secondsSince } from './hub-observer.js';
import type { HubContext } from './hub-context.js';
import type { HubUser } from '../config/options.js';
import { CloseCode, WELCOME, type Welcome } from '../protocol/protocol.js';
import { scheduleExpiry } from './session-expiry.js';
import { limitSockets } from './socket-cap.js';
import { Deadline } from '../util/deadline-queue.js';

/**
 * A transport accepted a connection: the session adds the hub's fields to
 * the socket, `'connected'` is emitted and `authenticate` runs; its outcome
 * goes to {@link settleHandshake}. While the hub closes, the socket is
 * closed with 1001 at once.
 */
export function openSession<User extends HubUser, S extends object>(ctx: HubContext<User, S>, options: OpenOptions<S>): Session {
  const { socket, connection, request } = options;
  const session = new SocketSession<User, S>({ host: ctx.sessionHost, socket, connection, v2: options.protocol === 'wshub' });
  ctx.sessions.add(session);
  ctx.state.pending++;
  if (ctx.state.closing) {
    session.close(CloseCode.GoingAway);
    return session;
  }
  ctx.notifier.emit('connected', { socket: session.socket, request });
  if (session.phase !== 'pending') return session; // a 'connected' handler closed it
  const { observers } = ctx;
  const started = observers.active ? performance.now() : 0;
  const span = ctx.tracing && traceHandshake(ctx.tracing, session, ctx.authenticate);
  runHandshake(session, span?.authenticate ?? ctx.authenticate, request, ctx.config.authTimeoutMs, (outcome) => {
    span?.settled(outcome, ctx.config.authTimeoutMs);
    if (started !== 0) {
      observers.call('authSettled', secondsSince(started), outcome.kind === 'accepted' ? 'accepted' : outcome.kind);
    }
    if (outcome.kind === 'accepted') {
      // A broker that delivers without publishing when this node holds a user alone first tells the user's other holders.
      const admit = () => (session.phase === 'pending' ? settleHandshake(ctx, session, outcome) : undefined);
      whenPositionKnown(ctx, session, () => ctx.cluster.whenClaimed(outcome.user.id, admit));
    }
    else settleHandshake(ctx, session, outcome);
  });
  return session;
}

/**
 * Runs `admit` once the history knows the position a v2 socket's welcome
 * gives (a shared history learns its epoch from its store after the hub
 * started), or after `authTimeoutMs` (the welcome then says the position is
 * unknown: epoch ""), timed by the hub's deadline queue. Meanwhile the
 * socket stays pending: its frames wait, within the pending budget, and so
 * does its resume.
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
  // The wait is an entry of the sessions' one deadline queue, not a timer per socket.
  const { deadlines } = ctx.sessionHost;
  const go = () => {
    deadlines.delete(clock);
    if (session.phase === 'pending') admit();
  };
  const clock = Deadline.of(go);
  deadlines.set(clock, Date.now() + ctx.config.authTimeoutMs);
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
  ctx.notifier.emit('ready', { socket: session.socket, user });
  if (session.v2 && session.phase === 'ready') {
    const history = ctx.cluster.history;
    const welcome: Welcome = history ? { protocol: 2, recovery: history.position() } : { protocol: 2 };
    // Ids on frames without receipts (the sender's `options.id`) are not to be confirmed.
    if (!ctx.receipts) welcome.receipts = false;
    ctx.delivery.reply(session, WELCOME, welcome);
  }
  scheduleExpiry(ctx, session);
  session.flushPending();
}
