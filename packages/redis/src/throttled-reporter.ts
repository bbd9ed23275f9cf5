/**
 * Reports recurring failures without turning a flood into a flood of
 * `'error'`s: per kind, the first report goes out at once, then at most one
 * every `intervalMs`, and the reports held back meanwhile are counted so the
 * next one can say how many there were.
 *
 * `RedisBroker` uses one per instance (a Redis publish that keeps failing, a
 * subscriber that keeps reconnecting); it is written to serve `ClusterBroker`'s
 * malformed-message reports too, and can move to `@wshub/core` as it is.
 */
export class ThrottledReporter {
  private readonly last = new Map<string, number>();
  private readonly skipped = new Map<string, number>();

  constructor(
    private readonly sink: (error: Error) => void,
    readonly intervalMs: number,
    private readonly now: () => number = Date.now,
  ) {
    if (!Number.isFinite(intervalMs) || intervalMs < 0) {
      throw new TypeError(`wshub: ThrottledReporter "intervalMs" must be a number of at least 0, got ${String(intervalMs)}`);
    }
  }

  /**
   * Reports `error` unless a report of `kind` went out less than
   * `intervalMs` ago. `error` may be a function of the number of reports of
   * that kind held back since the last one (0 for the first), for messages
   * such as "ignored 12 malformed messages". Returns whether it reported.
   */
  report(kind: string, error: unknown | ((skipped: number) => Error)): boolean {
    const now = this.now();
    const last = this.last.get(kind);
    if (last !== undefined && now - last < this.intervalMs) {
      this.skipped.set(kind, (this.skipped.get(kind) ?? 0) + 1);
      return false;
    }
    const skipped = this.skipped.get(kind) ?? 0;
    this.last.set(kind, now);
    this.skipped.delete(kind);
    this.sink(toError(typeof error === 'function' ? (error as (skipped: number) => Error)(skipped) : error));
    return true;
  }

  /**
   * Reports the first failure of `kind` and nothing more until `reset(kind)`:
   * for failures that repeat for as long as a condition lasts (one report per
   * outage, not one per reconnect attempt). Returns whether it reported.
   */
  once(kind: string, error: unknown): boolean {
    if (this.last.has(kind)) return false;
    this.last.set(kind, this.now());
    this.sink(toError(error));
    return true;
  }

  /** Forgets `kind`: its next failure is reported at once. */
  reset(kind: string): void {
    this.last.delete(kind);
    this.skipped.delete(kind);
  }
}

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
