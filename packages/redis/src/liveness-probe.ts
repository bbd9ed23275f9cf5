import type { SubscriberConnection } from './subscriber-connection.js';

interface PendingProbe {
  readonly token: string;
  /** The subscriber connection the probe checks; a replaced one is not judged. */
  readonly connection: unknown;
  readonly sentAt: number;
  received: boolean;
  replied: boolean;
  timer: ReturnType<typeof setTimeout> | undefined;
}

export interface LivenessProbeOptions {
  /** The probe's own channel, subscribed on `subscriber` (and only there). */
  channel: string;
  subscriber: SubscriberConnection;
  /** Publishes on the command connection; resolves with the number of receivers Redis reports. */
  publish(channel: string, token: string): Promise<number>;
  /** True when a command written now goes straight to Redis. */
  commandWritable(): boolean;
  probeTimeoutMs: number;
  /** How long a publish may stay unanswered before the probe is dropped as inconclusive. */
  commandTimeoutMs: number;
  /** The subscriber failed: `why` says how. The owner replaces the connection. */
  failed(why: string): void;
}

/**
 * Checks that a subscriber connection still receives: on every `check()` it
 * publishes a token to a channel only this connection subscribes. If Redis
 * says nobody subscribes it, or the token does not come back within
 * `probeTimeoutMs` after Redis accepted the publish, the subscriber failed.
 * A probe whose publish Redis never answered says nothing about the subscriber.
 */
export class LivenessProbe {
  private pending: PendingProbe | undefined;
  private seq = 0;

  constructor(private readonly options: LivenessProbeOptions) {}

  get channel(): string {
    return this.options.channel;
  }

  check(): void {
    const o = this.options;
    const pending = this.pending;
    if (pending) {
      if (pending.replied || Date.now() - pending.sentAt < o.commandTimeoutMs) return;
      this.pending = undefined;
    }
    if (!o.commandWritable() || !o.subscriber.ready || !o.subscriber.confirmed.has(o.channel)) return;
    const probe: PendingProbe = {
      token: `${++this.seq}`,
      connection: o.subscriber.connection,
      sentAt: Date.now(),
      received: false,
      replied: false,
      timer: undefined,
    };
    this.pending = probe;
    o.publish(o.channel, probe.token).then(
      (receivers) => {
        if (this.pending !== probe) return;
        probe.replied = true;
        if (probe.received) {
          this.pending = undefined;
        } else if (receivers === 0) {
          this.fail(probe, 'Redis reports no subscriber on the probe channel');
        } else {
          probe.timer = setTimeout(() => this.fail(probe, `the probe did not arrive within ${o.probeTimeoutMs} ms`), o.probeTimeoutMs);
          probe.timer.unref();
        }
      },
      () => {
        if (this.pending === probe) this.pending = undefined;
      },
    );
  }

  /** A message arrived on the probe channel. */
  receive(token: string): void {
    const probe = this.pending;
    if (!probe || probe.token !== token) return;
    probe.received = true;
    if (!probe.replied) return;
    clearTimeout(probe.timer);
    this.pending = undefined;
  }

  stop(): void {
    clearTimeout(this.pending?.timer);
    this.pending = undefined;
  }

  private fail(probe: PendingProbe, why: string): void {
    if (this.pending !== probe) return;
    this.pending = undefined;
    if (probe.connection !== this.options.subscriber.connection) return;
    this.options.failed(why);
  }
}
