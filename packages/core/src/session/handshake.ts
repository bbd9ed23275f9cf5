import type { HubRequest, HubUser } from '../config/options.js';
import type { SocketSession } from './socket-session.js';

/** How a handshake ended; only the first outcome counts. */
export type HandshakeOutcome<User> =
  | { kind: 'accepted'; user: User }
  | { kind: 'refused'; error: unknown; problem?: string }
  | { kind: 'timeout' };

const isThenable = (value: unknown): value is PromiseLike<unknown> =>
  typeof (value as PromiseLike<unknown> | null)?.then === 'function';

/**
 * Runs `authenticate` for a pending session and reports one outcome: the
 * user (checked: string `id` and `deviceFingerprint`), a refusal (it threw,
 * rejected, or gave no proper user: `problem` says what), or a timeout after
 * `timeoutMs`. An answer that comes after the session stopped being pending
 * (closed, timed out) is discarded.
 */
export function runHandshake<User extends HubUser>(
  session: SocketSession<User>,
  authenticate: (request: HubRequest) => User | Promise<User>,
  request: HubRequest,
  timeoutMs: number,
  done: (outcome: HandshakeOutcome<User>) => void,
): void {
  const settle = (outcome: HandshakeOutcome<User>) => {
    if (session.phase !== 'pending') return;
    session.stopAuthClock();
    done(outcome);
  };
  const accept = (user: User) => {
    const problem = describeUserProblem(user);
    settle(problem ? { kind: 'refused', error: undefined, problem } : { kind: 'accepted', user });
  };
  session.startAuthClock(timeoutMs, () => settle({ kind: 'timeout' }));
  let result: User | Promise<User>;
  try {
    result = authenticate(request);
  } catch (error) {
    settle({ kind: 'refused', error });
    return;
  }
  if (isThenable(result)) {
    Promise.resolve(result).then(accept, (error: unknown) => settle({ kind: 'refused', error }));
  } else {
    accept(result);
  }
}

export function describeUserProblem(user: unknown): string | undefined {
  if (typeof user !== 'object' || user === null) return `${user === null ? 'null' : typeof user} instead of a user object`;
  const { id, deviceFingerprint } = user as Partial<HubUser>;
  if (typeof id !== 'string' || id === '') return `a user whose "id" is not a non-empty string (got ${typeof id})`;
  if (!isWellFormed(id)) return `a user whose "id" is not well-formed UTF-16 (it holds a lone surrogate)`;
  if (typeof deviceFingerprint !== 'string' || deviceFingerprint === '') {
    return `a user whose "deviceFingerprint" is not a non-empty string (got ${typeof deviceFingerprint})`;
  }
  return undefined;
}

/**
 * Whether `text` has no lone surrogate. A user id names the user's Redis
 * channel and keys, and UTF-8 turns every lone surrogate into U+FFFD, so ids
 * that differ only there would share one channel and one history.
 */
export function isWellFormed(text: string): boolean {
  return !LONE_SURROGATE.test(text);
}

/** With the `u` flag a pair is one code point, so only a lone surrogate matches. */
const LONE_SURROGATE = /\p{Surrogate}/u;
