import { clusterHistoryKeys } from './cluster-history-keys.js';
import { clusterHistoryScripts } from './cluster-history-scripts.js';
import type { ClusterHistoryParts } from './cluster-history.js';

/** Histories with a lost mark waiting to be written, at most; past it the broadcasts' history is marked (every older position fails). */
const MAX_PENDING_MARKS = 10_000;

/**
 * Lost marks of the histories of a Redis Cluster that this node delivered
 * something of unrecorded or out of order: written once the history's slot
 * takes writes again (after the outage lanes were sent), so a resume from
 * before the mark answers `failed` on every node. Until then this node
 * answers `failed` itself ({@link has}).
 */
export class ClusterLostMarks {
  /** History channel → the offset its mark must pass, and whether the mark tells every node (see {@link add}). */
  private readonly pending = new Map<string, { floor: number; notify: boolean }>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private closed = false;

  constructor(
    private readonly parts: ClusterHistoryParts,
    private readonly ttlMs: number,
    /** The broadcasts' channel: marked instead when too many are pending. */
    private readonly allChannel: string,
  ) {}

  /** True while the mark of the history of `channel` is not written yet. */
  has(channel: string): boolean {
    return this.pending.has(channel);
  }

  /**
   * Marks the history of `channel` above `floor`, once its slot takes
   * writes. With `notify` (a recording that failed: its message may have
   * reached nobody), the mark is published on the channel too, and every
   * node closes the history's sockets for a resume, which the mark fails.
   */
  add(channel: string, floor: number, notify = false): void {
    if (!this.pending.has(channel) && this.pending.size >= MAX_PENDING_MARKS) channel = this.allChannel;
    const was = this.pending.get(channel);
    this.pending.set(channel, { floor: Math.max(was?.floor ?? 0, floor), notify: notify || was?.notify === true });
    this.schedule();
  }

  /** Writes the marks after the outage lanes were sent (what they held reaches clients without offsets). */
  schedule(): void {
    if (this.timer || this.closed || this.pending.size === 0) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.write();
    }, this.parts.options.bufferFlushDelayMs + 100);
    this.timer.unref();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }

  private async write(): Promise<void> {
    const { commands, routes, publisher, reporter } = this.parts;
    const scripts = clusterHistoryScripts(commands.redis);
    for (const [channel, mark] of [...this.pending]) {
      if (this.closed) return;
      const keys = clusterHistoryKeys(channel);
      if (!commands.writable || !routes.open(keys.slot) || publisher.heldIn(keys.slot) > 0) continue;
      const named = mark.notify ? ['4', keys.seq, keys.own, keys.lost, keys.channel] : ['3', keys.seq, keys.own, keys.lost];
      try {
        await commands.timed(scripts.wshubClusterMarkLost(...named, String(mark.floor), String(this.ttlMs)), 'a lost mark');
        if (this.pending.get(channel) === mark) this.pending.delete(channel);
      } catch (error) {
        reporter.report('history', new Error(`wshub: marking lost history in Redis failed: ${(error as Error).message}`));
      }
    }
    this.schedule();
  }
}
