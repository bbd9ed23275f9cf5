/**
 * Timings the hub measures for whoever watches it (`@wshub/prometheus`
 * turns them into histograms). Each method is optional and is called
 * synchronously with the duration in seconds; nothing is measured while no
 * observer is registered. An observer that throws is reported through
 * `'error'` (source `'observer'`) and the hub carries on.
 */
export interface HubObserver {
  /** `authenticate` settled for one socket: from `open()` to accepted, refused or timed out. */
  authSettled?(seconds: number, outcome: 'accepted' | 'refused' | 'timeout'): void;
  /** `canWatch` answered one watch (or did not, within `watchTimeoutMs`). */
  watchChecked?(seconds: number, outcome: 'allowed' | 'forbidden' | 'timeout' | 'error'): void;
  /** A `sendMessage` or `push` call, from the call to its last write on this node (push callbacks included). */
  delivered?(seconds: number, kind: 'send' | 'push'): void;
}

/** The observers of one hub, called each on its own. */
export class Observers {
  private list: HubObserver[] = [];

  constructor(private readonly onError: (error: unknown) => void) {}

  get active(): boolean {
    return this.list.length > 0;
  }

  add(observer: HubObserver): () => void {
    this.list = [...this.list, observer];
    return () => {
      this.list = this.list.filter((o) => o !== observer);
    };
  }

  call<K extends keyof HubObserver>(name: K, ...args: Parameters<NonNullable<HubObserver[K]>>): void {
    for (const observer of this.list) {
      const method = observer[name] as ((...a: unknown[]) => void) | undefined;
      if (!method) continue;
      try {
        method.apply(observer, args);
      } catch (error) {
        this.onError(error);
      }
    }
  }
}

/** Seconds since `start` (a `performance.now()` reading). */
export function secondsSince(start: number): number {
  return (performance.now() - start) / 1000;
}
