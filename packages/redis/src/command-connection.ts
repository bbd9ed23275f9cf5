import type { Cluster, Redis } from 'ioredis';
import { RedisUnavailableError } from './redis-unavailable-error.js';
import { holdForTurn } from './turn-writes.js';

/** What the command connection tells its owner. */
export interface CommandConnectionEvents {
  /** The connection is ready (again); `reconnect` is false the first time. */
  up(reconnect: boolean): void;
  /** The connection was lost after it had been ready. */
  down(status: string): void;
}

/**
 * The broker's command connection (publishes, presence): tells whether a
 * command written now goes straight to Redis, reports ready/lost
 * transitions, and bounds every wait with a timeout.
 */
export class CommandConnection {
  /** Times the connection came back after it had been ready. */
  reconnects = 0;
  private wasReady = false;
  private started = false;
  private readonly listeners: Array<[string, (...args: any[]) => void]>;

  constructor(
    readonly redis: Redis | Cluster,
    /** The broker created this connection (and closes it); false for a client the app passed in. */
    readonly owned: boolean,
    /** `commandTimeoutMs`: the longest wait for any one command. */
    readonly timeoutMs: number,
    private readonly events: CommandConnectionEvents,
  ) {
    this.listeners = [
      ['ready', () => this.onReady()],
      ['close', () => this.onDown()],
      ['end', () => this.onDown()],
    ];
    for (const [name, listener] of this.listeners) redis.on(name, listener);
  }

  get status(): string {
    return this.redis.status;
  }

  /** True for a Redis Cluster client. */
  get cluster(): boolean {
    return (this.redis as { isCluster?: boolean }).isCluster === true;
  }

  /**
   * True when a command written now goes straight to Redis (the same test
   * ioredis makes). For a cluster: the cluster client is ready (a command to
   * a master that is down then fails, and is counted, rather than waits).
   */
  get writable(): boolean {
    if (this.redis.status !== 'ready') return false;
    if (this.cluster) return true;
    const stream = (this.redis as Redis).stream as { writable?: boolean } | undefined;
    return stream?.writable === true;
  }

  /**
   * Publishes on a channel: PUBLISH on one Redis, SPUBLISH (sharded) on a
   * cluster (the broker's lanes publish to each master's own connection).
   * The first publish of a turn goes at once, the rest of the turn together
   * ({@link holdForTurn}).
   */
  publish(channel: string, data: string): Promise<number> {
    if (this.cluster) return this.redis.spublish(channel, data) as Promise<number>;
    holdForTurn(this.redis as Redis);
    return (this.redis as Redis).publish(channel, data);
  }

  /** Reports the current state once a hub attached: `up` if the connection is ready already. */
  start(): void {
    this.started = true;
    this.onReady();
  }

  private onReady(): void {
    if (!this.started || !this.writable) return;
    const reconnect = this.wasReady;
    if (reconnect) this.reconnects++;
    this.wasReady = true;
    this.events.up(reconnect);
  }

  private onDown(): void {
    if (this.started && this.wasReady) this.events.down(this.redis.status);
  }

  /**
   * Drops a connection that accepts commands but never answers (a silent
   * network failure would otherwise wait for TCP to give up); ioredis then
   * connects again. Only for a connection the broker owns.
   */
  resetStalled(): void {
    if (this.owned && !this.cluster) ((this.redis as Redis).stream as { destroy?: () => void } | undefined)?.destroy?.();
  }

  /** Rejects with a {@link RedisUnavailableError} when Redis does not answer within `commandTimeoutMs`. */
  timed<T>(promise: Promise<T>, what: string): Promise<T> {
    const ms = this.timeoutMs;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new RedisUnavailableError(`wshub: Redis did not answer ${what} within ${ms} ms`)), ms);
    });
    promise.catch(() => {}); // a late rejection after the timeout is not unhandled
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
  }

  /**
   * Runs a presence query within `commandTimeoutMs`. It rejects only with a
   * {@link RedisUnavailableError}: a connection that breaks mid-query, or a
   * cluster that fails over, makes ioredis reject with errors of its own
   * (`Connection is closed.`, `Cluster isn't ready…`, `Too many Cluster
   * redirections…`), and apps are told to expect only the documented class.
   */
  async query<T>(run: () => Promise<T>): Promise<T> {
    const unavailable = this.unavailable();
    if (unavailable) throw unavailable;
    try {
      return await this.timed(run(), 'a presence query');
    } catch (error) {
      if (error instanceof RedisUnavailableError) throw error;
      const message = error instanceof Error ? error.message : String(error);
      throw new RedisUnavailableError(
        `wshub: Redis could not answer a presence query (${message}); cluster presence is unavailable until it does`,
        { cause: error },
      );
    }
  }

  /** A {@link RedisUnavailableError} for a query that cannot be answered now, or `undefined` when it can. */
  unavailable(): RedisUnavailableError | undefined {
    if (this.writable) return undefined;
    return new RedisUnavailableError(
      `wshub: Redis is unreachable (connection status "${this.redis.status}"); cluster presence is unavailable until it reconnects`,
    );
  }

  /** Stops listening; quits and closes the connection if the broker created it. */
  async close(): Promise<void> {
    for (const [name, listener] of this.listeners) this.redis.off(name, listener);
    if (!this.owned) return;
    if (this.writable) await this.timed(this.redis.quit(), 'QUIT').catch(() => {});
    this.redis.disconnect();
  }
}
