import { CloseReason } from '@wshub/core/protocol';

/**
 * The server closed the connection because of something this client sent
 * (4400 invalid message, 1002 broken frame, 1003 binary frame, 1007 invalid
 * UTF-8, 1008 too many fragments, 1009 message too big). Sending
 * the same again would fail the same way, so the client stops instead of
 * reconnecting. Emitted as `'error'`.
 */
export class ClientBugError extends Error {
  override readonly name = 'ClientBugError';
  /** The close code the server sent. */
  readonly code: number;
  /** The close reason the server sent. */
  readonly reason: string;

  constructor(code: number, reason: string) {
    const known = (CloseReason as Record<number, string | undefined>)[code];
    super(
      `wshub client: the server closed the connection with ${code} (${reason || known || 'no reason'}) because of a frame this client sent; not reconnecting`,
    );
    this.code = code;
    this.reason = reason;
  }
}
