import { optionError } from '@wshub/core';
import type { TableName } from './schema.js';

/** The part of a `pg` `Pool` that reads the table's state. */
interface Reader {
  query(sql: string, params?: unknown[]): Promise<unknown>;
}

export interface OutboxStats {
  /** Rows committed and not yet relayed. */
  pending: number;
  /** Age of the oldest of them, in seconds (0 when none). */
  oldestPendingSeconds: number;
  /** Rows the hub refused, kept with `dead_at` and `error`. */
  deadLettered: number;
}

export interface RelayHealthOptions {
  /**
   * The oldest pending row may be this old (seconds) before the relay is
   * reported down: past it, no relay of the cluster is delivering (or it
   * cannot keep up).
   * @default 60
   */
  maxPendingAgeSeconds?: number;
  /**
   * Dead-lettered rows allowed before the relay is reported down. They wait
   * for an operator and hold nothing up, so by default they are only
   * counted.
   * @default Infinity
   */
  maxDeadLettered?: number;
  /**
   * How long the table may take to answer; a PostgreSQL that does not
   * answer within it is reported down.
   * @default 2000
   */
  timeoutMs?: number;
}

/** The answer of `relay.health()`. */
export interface RelayHealth {
  /** Delivering, or standing by behind a relay that delivers: no reason below. */
  ready: boolean;
  /**
   * `'leader'`: this relay holds the lock and delivers; `'follower'`: another
   * relay does and this one waits to take over; `'stopped'`: closed, or its
   * hub is closing.
   */
  role: 'leader' | 'follower' | 'stopped';
  /** Rows waiting, the age of the oldest, dead letters: the table's, for every relay alike. `undefined` when it could not be read. */
  pending: number | undefined;
  oldestPendingSeconds: number | undefined;
  deadLettered: number | undefined;
  /** Failures to reach PostgreSQL since the relay last reached it (0 when healthy). */
  failures: number;
  /** The message of the last error the relay met (it may be old: `failures` says whether it goes on). */
  lastError: string | undefined;
  /** One sentence per reason the relay is not ready; empty when it is. */
  problems: string[];
}

/** What the relay tells its health from. */
export interface RelayState {
  readonly closed: boolean;
  readonly active: boolean;
  readonly failures: number;
  readonly lastError: Error | undefined;
}

const DEFAULTS = { maxPendingAgeSeconds: 60, maxDeadLettered: Number.POSITIVE_INFINITY, timeoutMs: 2000 };

/** One scan of the table: pending rows, the age of the oldest, dead letters. */
export async function tableStats(pool: Reader, table: TableName): Promise<OutboxStats> {
  const result = (await pool.query(
    `SELECT count(*) FILTER (WHERE dead_at IS NULL)::int AS pending,
  count(*) FILTER (WHERE dead_at IS NOT NULL)::int AS dead,
  EXTRACT(EPOCH FROM now() - min(created_at) FILTER (WHERE dead_at IS NULL))::float8 AS oldest
FROM ${table.sql}`,
  )) as { rows: Array<{ pending: number; dead: number; oldest: number | null }> };
  const row = result.rows[0]!;
  return { pending: row.pending, oldestPendingSeconds: row.oldest ?? 0, deadLettered: row.dead };
}

/** What the relay knows without reading the table: stopped, or failing to reach PostgreSQL. */
export function stateProblems(state: RelayState): string[] {
  const problems: string[] = [];
  if (state.closed) problems.push('the relay is stopped (closed, or its hub is closing)');
  if (state.failures > 0) {
    problems.push(`PostgreSQL failed the relay ${state.failures} time(s) in a row: ${state.lastError?.message ?? 'unknown error'}`);
  }
  return problems;
}

/**
 * A relay's health for a readiness or liveness check: its role, the
 * table's backlog and dead letters, and its failures. Reads the table once
 * (through the pool, not the relay's connection), bounded by `timeoutMs`.
 */
export async function relayHealth(
  state: RelayState,
  read: () => Promise<OutboxStats>,
  options: RelayHealthOptions = {},
): Promise<RelayHealth> {
  if (typeof options !== 'object' || options === null) throw optionError('relay.health()', 'options', 'an object', options);
  const limits = { ...DEFAULTS, ...options };
  for (const name of ['maxPendingAgeSeconds', 'maxDeadLettered', 'timeoutMs'] as const) {
    if (typeof limits[name] !== 'number' || !(limits[name] >= 0)) throw optionError('relay.health()', name, 'a non-negative number', limits[name]);
  }
  const role = state.closed ? 'stopped' : state.active ? 'leader' : 'follower';
  const problems = stateProblems(state);
  let stats: OutboxStats | undefined;
  try {
    stats = await withTimeout(read(), limits.timeoutMs);
  } catch (error) {
    problems.push(`the outbox table could not be read: ${(error as Error).message}`);
  }
  if (stats && stats.oldestPendingSeconds > limits.maxPendingAgeSeconds) {
    problems.push(
      `the oldest pending row is ${Math.round(stats.oldestPendingSeconds)} s old, more than maxPendingAgeSeconds ${limits.maxPendingAgeSeconds}: no relay is keeping up`,
    );
  }
  if (stats && stats.deadLettered > limits.maxDeadLettered) {
    problems.push(`${stats.deadLettered} dead-lettered rows, more than maxDeadLettered ${limits.maxDeadLettered}`);
  }
  return {
    ready: problems.length === 0,
    role,
    pending: stats?.pending,
    oldestPendingSeconds: stats?.oldestPendingSeconds,
    deadLettered: stats?.deadLettered,
    failures: state.failures,
    lastError: state.lastError?.message,
    problems,
  };
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`PostgreSQL did not answer within ${ms} ms`)), ms);
  });
  // The query goes on after a timeout; its late answer (or error) is dropped.
  promise.catch(() => {});
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
