import type { HandshakeOutcome } from '../session/handshake.js';
import type { HubRequest, HubUser } from '../config/options.js';
import { CloseCode } from '../protocol/protocol.js';
import type { SocketSession } from '../session/socket-session.js';
import type { Tracing } from '../config/tracing.js';

/** The `wshub.authenticate` span of one connection (see docs/OBSERVABILITY.md). */
export interface HandshakeSpan<User> {
  /** The app's `authenticate`, run with the span active: the app's spans inside are its children. */
  authenticate(request: HubRequest): User | Promise<User>;
  /** The handshake's outcome: ends the span. */
  settled(outcome: HandshakeOutcome<User>, timeoutMs: number): void;
}

/**
 * Starts `wshub.authenticate` for a connection that was just opened;
 * `undefined` when it would not record. It ends with the outcome; a socket
 * that closes before `authenticate` answers ends it as `'closed'`.
 */
export function traceHandshake<User extends HubUser>(
  tracing: Tracing,
  session: SocketSession<User>,
  authenticate: (request: HubRequest) => User | Promise<User>,
): HandshakeSpan<User> | undefined {
  const span = tracing.socketSpan('wshub.authenticate', session.id, undefined);
  if (!span) return undefined;
  // Resolved false when the socket closes while pending; after an outcome, end() does nothing.
  void session.isAuthorized.then((authorized) => {
    if (!authorized) span.end({ 'wshub.auth.outcome': 'closed' });
  });
  return {
    authenticate: (request) => span.run(() => authenticate(request)),
    settled(outcome, timeoutMs) {
      switch (outcome.kind) {
        case 'accepted':
          span.user(outcome.user.id);
          span.end({ 'wshub.auth.outcome': 'accepted' });
          return;
        case 'refused':
          // A refusal is the app's decision (a bad token), not a failure: its reason is an event.
          // A user object that is not one is the app's bug: the span fails.
          if (outcome.problem) span.fail(new Error(`authenticate resolved ${outcome.problem}`));
          else if (outcome.error !== undefined) span.exception(outcome.error);
          span.end({ 'wshub.auth.outcome': 'refused', 'wshub.close.code': CloseCode.Forbidden });
          return;
        case 'timeout':
          span.fail(new Error(`authenticate did not answer within ${timeoutMs} ms`));
          span.end({ 'wshub.auth.outcome': 'timeout', 'wshub.close.code': CloseCode.AuthTimeout });
          return;
      }
    },
  };
}
