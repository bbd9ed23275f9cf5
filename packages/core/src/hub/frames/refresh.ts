import { TIMED_OUT, withDeadline } from '../../util/deadline.js';
import { HubError } from '../../protocol/errors.js';
import { describeUserProblem } from '../../session/handshake.js';
import type { HubContext } from '../hub-context.js';
import type { HubUser } from '../../config/options.js';
import { CloseCode, MAX_TOKEN_LENGTH } from '../../protocol/protocol.js';
import { scheduleExpiry } from '../session-expiry.js';
import type { AdmittedSession } from '../../session/socket-session.js';
import { answerer, isPromise } from './answer.js';

/**
 * `wshub:refresh` (v2): a client sends a fresh token before its session
 * expires. The `refresh` hook decides: the same user with a new `expiresAt`
 * goes on (watches, rooms and history stay); anything else closes with
 * 4403. A user whose claims changed too replaces the user on every socket
 * of that user, on every node, as `updateUser` does.
 */
export function refreshFrame<User extends HubUser, S extends object>(
  ctx: HubContext<User, S>,
  session: AdmittedSession<User, S>,
  data: unknown,
  rawId: unknown,
): Promise<void> | undefined {
  const { id, answer, span } = answerer(ctx, session, 'refresh', rawId);
  const hook = ctx.refresh;
  if (!hook) {
    answer({ status: 'unavailable' });
    return undefined;
  }
  const token = (data as { token?: unknown } | null)?.token;
  if (id === false || typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH) {
    answer({ status: 'invalid', message: `refresh "data.token" must be a string of 1 to ${MAX_TOKEN_LENGTH} characters, and "id" a request id` });
    return undefined;
  }
  const current = session.user;
  const refuse = (error?: HubError) => {
    if (error) {
      span?.fail(error);
      ctx.report(error);
    }
    span?.end({ 'wshub.refresh.status': 'refused', 'wshub.close.code': CloseCode.Forbidden });
    ctx.counters.authRejected++;
    session.close(CloseCode.Forbidden);
  };
  // What the hook threw or rejected with: the app's reason, an event on the span (a refusal, not a failure).
  const refused = (error: unknown) => {
    span?.exception(error);
    refuse();
  };
  const accept = (next: User) => {
    if (session.phase !== 'ready') {
      span?.end({ 'wshub.refresh.status': 'closed' });
      return;
    }
    // The hook's type says User; what it returns at run time is checked all the same.
    const problem = describeUserProblem(next);
    if (problem) return refuse(new HubError('refresh', `wshub: refresh resolved ${problem}; the socket was closed with 4403`));
    if (next.id !== current.id) {
      return refuse(new HubError('refresh', `wshub: refresh resolved user "${next.id}" for a socket of user "${current.id}"; the socket was closed with 4403`));
    }
    session.replaceUser(next);
    // New claims (a role taken away) must reach the user's other sockets and the cluster's
    // presence, which push callbacks on other nodes read: as updateUser does.
    if (claimsChanged(current, next)) ctx.cluster.updateUser(next.id, next);
    scheduleExpiry(ctx, session);
    answer(next.expiresAt === undefined ? { status: 'refreshed' } : { status: 'refreshed', expiresAt: next.expiresAt });
  };
  let result: User | Promise<User>;
  try {
    const call = () => hook({ token, user: current, socket: session.socket });
    result = span ? span.run(call) : call();
  } catch (error) {
    // The app's reason stays the app's (the client sees 4403, as at connect); only the span keeps it.
    refused(error);
    return undefined;
  }
  if (!isPromise(result)) {
    accept(result);
    return undefined;
  }
  const timeoutMs = ctx.config.authTimeoutMs;
  return withDeadline(result, timeoutMs, ctx.sessionHost.deadlines).then(
    (user) => {
      if (user === TIMED_OUT) {
        refuse(new HubError('refresh', `wshub: refresh did not answer within ${timeoutMs} ms; the socket was closed with 4403`));
      } else {
        accept(user);
      }
    },
    refused,
  );
}

/** Whether a refreshed user differs from the one before in more than its `expiresAt`. */
function claimsChanged(before: HubUser, after: HubUser): boolean {
  try {
    return JSON.stringify({ ...before, expiresAt: undefined }) !== JSON.stringify({ ...after, expiresAt: undefined });
  } catch {
    // Not JSON (a cycle, a BigInt): assume it changed.
    return true;
  }
}
