/**
 * Published before a `watch` is registered. Handlers push a
 * `Promise<boolean>` (or a boolean) into `output` synchronously, before any
 * `await` in `handle()`: the module collects `output` as soon as the event
 * has been published. The watch is allowed when every entry resolves `true`;
 * nothing pushed means allowed.
 */
export class IsAllowedToWatchEvent<T = any> {
  readonly output: Array<Promise<boolean> | boolean> = [];

  constructor(
    /** The event name to watch, e.g. `'order-status'`. */
    readonly event: string,
    /** The scope (e.g. an order id) as a string, or `null` for a watch of every payload. */
    readonly payload: string | null,
    readonly userId: string,
    /** The user object the connection was authorized with. */
    readonly user?: T,
  ) {}

  /** True when every entry of `output` resolves `true`; false if one rejects. */
  async allowed(): Promise<boolean> {
    const verdicts = await Promise.all(this.output);
    return verdicts.every((verdict) => verdict === true);
  }
}
