import type { PushData, WatchFilterArg } from '@wshub/core';

/**
 * Sends `event` to every connected user, or to those `allow` accepts. `data`
 * is a value, or a function run once per user for per-user data. A callback
 * that throws skips that user (logged); everyone else still gets the message.
 */
export class PushCommand<T = any> {
  constructor(
    readonly event: string,
    readonly data: PushData<T>,
    readonly allow?: (user: T) => boolean | Promise<boolean>,
    readonly isWatchingOrPayload?: WatchFilterArg,
  ) {}
}
