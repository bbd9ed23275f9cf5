import type { WatchFilterArg } from '@wshub/core';

/**
 * Sends `{ event, data }` to every socket of `userId`, on every node.
 * `isWatchingOrPayload`: absent or `false` → all the user's sockets; `true` →
 * sockets watching `event`; a string or number → sockets watching `event`
 * with that payload, or every payload. `data` goes through class-transformer's
 * `instanceToPlain` once.
 */
export class SendMessageCommand<D = any> {
  constructor(
    readonly userId: string,
    readonly event: string,
    readonly data: D,
    readonly isWatchingOrPayload?: WatchFilterArg,
  ) {}
}
