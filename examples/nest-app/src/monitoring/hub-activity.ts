import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { Hub } from '@wshub/nest';
import { DemoDatabase } from '../database/demo-database.js';

/** One second of the hub, as the page's live panel draws it. */
export interface ActivitySample {
  /** End of the second, ms since the epoch. */
  at: number;
  connections: number;
  users: number;
  /** Messages written to sockets during that second. */
  deliveries: number;
  /** Outbox rows committed and not yet relayed (read at most a second before); null while the database opens. */
  pending: number | null;
  /** The slowest row the relay handed to the hub during that second, from its COMMIT (ms); null when none. */
  relayMs: number | null;
}

/** Seconds of history the panel shows. */
export const ACTIVITY_SECONDS = 60;

/**
 * The last minute of this node's hub, one sample a second from
 * `hub.stats()`: open sockets, users, and deliveries in that second (the
 * growth of `messagesOut`); and the outbox's pending rows and relay latency. Kept by the server, so a page opened now draws
 * the whole minute at once.
 */
@Injectable()
export class HubActivity implements OnModuleInit, OnModuleDestroy {
  private readonly samples: ActivitySample[] = [];
  private timer: NodeJS.Timeout | undefined;
  private lastOut = 0;

  constructor(
    @Inject(Hub) private readonly hub: Hub,
    private readonly database: DemoDatabase,
  ) {}

  onModuleInit(): void {
    this.lastOut = this.hub.stats().messagesOut;
    this.timer = setInterval(() => this.sample(), 1000);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  /** Oldest first, at most {@link ACTIVITY_SECONDS}. */
  lastMinute(): ActivitySample[] {
    return [...this.samples];
  }

  private sample(): void {
    const { connections, users, messagesOut } = this.hub.stats();
    const latencies = this.database.takeLatencies();
    const pending = this.database.lastPending;
    this.samples.push({
      at: Date.now(),
      connections,
      users,
      deliveries: messagesOut - this.lastOut,
      pending: pending ?? null,
      relayMs: latencies.length > 0 ? Math.max(...latencies) : null,
    });
    this.lastOut = messagesOut;
    if (this.samples.length > ACTIVITY_SECONDS) this.samples.shift();
  }
}
