import { CloseCode } from '@wshub/core/protocol';
import { describeClose } from './message-queue.js';

/**
 * The socket closed before what was asked of it happened: `code` and
 * `reason` are the close the client saw. `TestClient.sync()`, `watch()` and
 * `unwatch()` reject with it (or with {@link ConnectionRefusedError}, which
 * extends it) so `rejects.toMatchObject({ code })` reads the same for a real
 * socket and for `FakeHub.connect()`.
 */
export class SocketClosedError extends Error {
  override readonly name: string = 'SocketClosedError';

  constructor(
    message: string,
    readonly code: number,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * The hub refused the connection: `code` is the close code the hub chose
 * (4403 when `authenticate` refused, 4408 when it did not answer in time,
 * 4429 when too many frames came before it did, 1001 when the hub is
 * closing), `cause` is what `authenticate` threw or rejected with, when it
 * did and the refusal happened in a `FakeHub` (a real socket never learns it).
 */
export class ConnectionRefusedError extends SocketClosedError {
  override readonly name: string = 'ConnectionRefusedError';

  constructor(code: number, reason: string, options?: { cause?: unknown; message?: string }) {
    const detail = options?.cause === undefined ? '' : `: ${describeCause(options.cause)}`;
    super(
      options?.message ?? `wshub FakeHub: the connection was refused with ${describeClose(code, reason)}${detail}`,
      code,
      reason,
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
  }
}

/** Close codes a hub uses only to refuse a connection during its handshake. */
const REFUSAL_CODES: ReadonlySet<number> = new Set([CloseCode.Forbidden, CloseCode.AuthTimeout, CloseCode.TooManyRequests]);

/** The error for a socket that closed with `code`: a refusal for the handshake's codes, else a close. */
export function closedError(message: string, code: number, reason: string): SocketClosedError {
  return REFUSAL_CODES.has(code) ? new ConnectionRefusedError(code, reason, { message }) : new SocketClosedError(message, code, reason);
}

function describeCause(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}
