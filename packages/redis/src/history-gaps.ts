import type { HistoryCore } from './redis-history.js';

/** Channels confirmed after a subscriber gap, and the gap they close. */
interface CatchUp {
  channels: string[];
  /** Highest offset received before the gap. */
  from: number;
  at: number;
  /** The epoch this node knew when the gap opened. */
  epoch: string;
  /** The first recorded offset received after the channels were confirmed. */
  live: number | undefined;
}

/**
 * A node whose subscriber connection was gone may have missed recorded
 * messages: Redis published them to nobody here. Once the channels are
 * confirmed again, the streams tell what was recorded meanwhile, and the
 * sockets of the users who may have missed something are closed for a
 * resume (their clients then get what they missed, on any node).
 */
export class GapTracker {
  /**
   * Open while a subscriber connection is gone or its channels are not all
   * confirmed again: `from` is the highest offset received before it went.
   */
  private gap: { from: number; at: number; epoch: string } | undefined;
  /** Channels confirmed after a gap, waiting for the first recorded message received after their confirmation. */
  private readonly catchingUp = new Set<CatchUp>();

  constructor(private readonly core: HistoryCore) {}

  /** A subscriber connection is gone: what is recorded until its channels are confirmed again does not reach this node's sockets. */
  down(): void {
    if (this.core.closed || this.gap) return;
    this.gap = { from: this.core.delivered, at: Date.now(), epoch: this.core.epoch };
  }

  /** A recorded message arrived (live): it bounds what the channels catching up may have missed. */
  received(offset: number): void {
    for (const batch of this.catchingUp) batch.live ??= offset;
  }

  /**
   * Redis confirmed `channels` again after a gap. Every recorded message on
   * them published after the confirmation arrives, in offset order; the
   * first one received (`live`) bounds what was missed: an entry on a
   * channel's stream after the gap's `from` and before `live` never reached
   * this node. The users of those channels (every user, for the broadcast
   * channel) have their v2 sockets closed with 1012, so their clients
   * resume from the last offset they got — on this node or another.
   */
  confirmed(channels: string[]): void {
    const { core } = this;
    const gap = this.gap;
    if (!gap || core.closed) return;
    const { subscriber, commands, broker, reporter } = core.parts;
    const batch: CatchUp = { channels, from: gap.from, at: gap.at, epoch: gap.epoch, live: undefined };
    this.catchingUp.add(batch);
    if (subscriber.confirmedCount > subscriber.wantedCount) this.gap = undefined; // every wanted channel and the probe's
    if (!commands.writable) {
      this.missed(batch, undefined);
      return;
    }
    const streams = channels.map((c) => (c === broker.broadcastChannel ? core.keys.all : core.userStream(core.userOfChannel(c) ?? '')));
    core.scripts.wshubHistoryMissed(String(streams.length + 1), core.keys.epoch, ...streams, String(batch.from)).then(
      (firsts) => this.missed(batch, firsts),
      (error: Error) => {
        reporter.report('history', new Error(`wshub: checking what the subscriber missed failed: ${error.message}`));
        this.missed(batch, undefined);
      },
    );
  }

  /** Closes the sockets of the channels in `batch` that may have missed a recorded message; `reply` undefined: all of them. */
  private missed(batch: CatchUp, reply: string[] | undefined): void {
    const { core } = this;
    this.catchingUp.delete(batch);
    if (core.closed) return;
    const { node, broker } = core.parts;
    const [epoch, ...firsts] = reply ?? [];
    // A gap longer than ttlMs may have lost a whole stream that expired meanwhile;
    // another epoch: Redis lost the history, and with it what this node may have missed.
    if (reply === undefined || epoch !== batch.epoch || Date.now() - batch.at > core.limits.ttlMs) {
      core.counters.resumeForced++;
      node.closeForResume(undefined);
      return;
    }
    batch.channels.forEach((channel, i) => {
      const first = Number(firsts[i] ?? -1);
      // No live message yet: an entry after `from` may be one still on its way, or one missed; count it missed.
      const missed = first < 0 || (first > 0 && (batch.live === undefined || first < batch.live));
      if (!missed) return;
      const userId = channel === broker.broadcastChannel ? undefined : core.userOfChannel(channel);
      if (userId === undefined && channel !== broker.broadcastChannel) return;
      core.counters.resumeForced++;
      node.closeForResume(userId);
    });
  }
}
