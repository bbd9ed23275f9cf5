import { describeClose } from './message-queue.js';

/**
 * A fake connect the hub refused: `code` is the close code the hub chose
 * (4403 when `authenticate` refused, 4408 when it did not answer in time,
 * 1001 when the hub is closing), `cause` is what `authenticate` threw or
 * rejected with, when it did.
 */
export class ConnectionRefusedError extends Error {
  override readonly name = 'ConnectionRefusedError';

  constructor(
    readonly code: number,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    const detail = options?.cause === undefined ? '' : `: ${describeCause(options.cause)}`;
    super(`wshub FakeHub: the connection was refused with ${describeClose(code, reason)}${detail}`, options);
  }
}

function describeCause(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}
