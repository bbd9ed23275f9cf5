import { type IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';
import { optionError } from '../protocol/protocol.js';

/** What {@link hubHealth} reads of a hub: any `Hub` or `WsHub` has it. */
export interface HealthSource {
  readonly acceptsConnections: boolean;
  readonly isClosing: boolean;
  stats(): { broker: Record<string, number> };
}

/**
 * A part beside the hub whose trouble makes the node not ready:
 * `@wshub/postgres`'s outbox relay is one (`relay.healthProblems()`).
 */
export interface HealthCheck {
  /**
   * One sentence per reason the part is not ready; empty when it is.
   * Synchronous and cheap: it runs on every probe.
   */
  healthProblems(): readonly string[];
}

export interface HubHealthOptions {
  /**
   * Parts whose problems make the hub not ready too, e.g. the outbox relay
   * that feeds it: `hubHealth(hub, { checks: [relay] })`. A check that
   * throws is a problem itself.
   */
  checks?: readonly HealthCheck[];
  /**
   * Event-loop delay (the worst per-second p99 of the last 10 s) above which
   * the hub is reported not ready: a loop that late delays every frame and
   * heartbeat of every socket.
   * @default 1000
   */
  maxEventLoopDelayMs?: number;
}

/** The answer of {@link hubHealth}. */
export interface HubHealth {
  /** The hub should get new connections: accepting, its broker reachable, its event loop on time. */
  ready: boolean;
  /** The hub accepts connections: not closing, and fewer than `limits.maxPendingSockets` handshakes pending. */
  accepting: boolean;
  /** `hub.close()` was called: the hub drains and accepts nothing more. */
  closing: boolean;
  /**
   * `'up'` / `'down'` for a broker that reports its connection (`RedisBroker`:
   * `stats().broker.connected`); `'local'` for one that has none to lose.
   */
  broker: 'up' | 'down' | 'local';
  /** The worst per-second p99 event-loop delay of the last 10 s, in milliseconds. */
  eventLoopDelayMs: number;
  /** One sentence per reason the hub (or one of `options.checks`) is not ready; empty when it is. */
  problems: string[];
}

export const DEFAULT_MAX_EVENT_LOOP_DELAY_MS = 1000;

/**
 * The health of a hub for a readiness probe: whether it accepts connections
 * (it stops the moment `close()` is called, so a probe on this fails while
 * the hub drains), whether its broker is reachable, and how late the event
 * loop runs. Cheap enough for every probe; the event-loop monitor starts on
 * the first call and measures from then on.
 */
export function hubHealth(hub: HealthSource, options: HubHealthOptions = {}): HubHealth {
  const maxDelay = options.maxEventLoopDelayMs ?? DEFAULT_MAX_EVENT_LOOP_DELAY_MS;
  if (typeof maxDelay !== 'number' || !(maxDelay > 0)) {
    throw optionError('hubHealth', 'maxEventLoopDelayMs', 'a positive number', maxDelay);
  }
  const checks = options.checks ?? [];
  if (!Array.isArray(checks) || !checks.every((c) => typeof (c as Partial<HealthCheck> | null)?.healthProblems === 'function')) {
    throw optionError('hubHealth', 'checks', 'an array of objects with a healthProblems() method', checks);
  }
  const closing = hub.isClosing;
  const accepting = hub.acceptsConnections;
  const connected = hub.stats().broker.connected;
  const broker = typeof connected !== 'number' ? 'local' : connected > 0 ? 'up' : 'down';
  const eventLoopDelayMs = loopDelay().worstMs();
  const problems: string[] = [];
  if (closing) problems.push('the hub is closing: it drains its sockets and accepts no connection');
  else if (!accepting) problems.push('the hub is at limits.maxPendingSockets handshakes pending and refuses upgrades (503)');
  if (broker === 'down') problems.push('the broker is unreachable: messages to other nodes are held until it is back');
  if (eventLoopDelayMs > maxDelay) {
    problems.push(`the event loop runs ${Math.round(eventLoopDelayMs)} ms late (p99), more than maxEventLoopDelayMs ${maxDelay}`);
  }
  for (const check of checks) {
    try {
      problems.push(...check.healthProblems());
    } catch (error) {
      problems.push(`a health check threw: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  return { ready: problems.length === 0, accepting, closing, broker, eventLoopDelayMs, problems };
}

const WINDOWS = 10;

/**
 * One per process (the event loop is the process's): a libuv-timer
 * histogram, read and reset every second into the last {@link WINDOWS}
 * per-second p99 values. Its timer is unreferenced, so it never keeps a
 * process alive.
 */
class LoopDelay {
  private readonly histogram: IntervalHistogram = monitorEventLoopDelay({ resolution: 10 });
  private readonly recent: number[] = [];

  constructor() {
    this.histogram.enable();
    setInterval(() => {
      this.recent.push(this.currentP99());
      if (this.recent.length > WINDOWS) this.recent.shift();
      this.histogram.reset();
    }, 1000).unref();
  }

  worstMs(): number {
    return Math.max(this.currentP99(), ...this.recent);
  }

  private currentP99(): number {
    // Nanoseconds; an empty histogram reads 0, or NaN on some Node versions.
    const p99 = this.histogram.count > 0 ? this.histogram.percentile(99) : 0;
    return Number.isFinite(p99) ? p99 / 1e6 : 0;
  }
}

let monitor: LoopDelay | undefined;
function loopDelay(): LoopDelay {
  monitor ??= new LoopDelay();
  return monitor;
}
