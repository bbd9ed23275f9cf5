import { clusterHistoryKeys } from './cluster-history-keys.js';
import { clusterHistoryScripts } from './cluster-history-scripts.js';
import type { ClusterHistoryParts } from './cluster-history.js';

/** Histories with a lost mark waiting to be written, at most; past it the broadcasts' history is marked (every older position fails). */
const MAX_PENDING_MARKS = 10_000;

/**
 * Lost marks of the histories of a Redis Cluster that this node delivered
 * something of unrecorded or out of order: written once the history's slot
 * takes writes again (after the outage lanes were sent), so a resume from
 * before the mark answers `failed` on every node; out of order, or told by
 * another node's mark, with the slot taking writes, at once ({@link now}).
 * Until a mark is written this node answers `failed` itself ({@link has}).
 */
export class ClusterLostMarks {
  /** History channel → the offset its mark must pass, and whether the mark tells every node (see {@link add}). */
  private readonly pending = new Map<string, { floor: number; notify: boolean }>();
  /** History channel → its mark being written now (see {@link now}). */
  private readonly writing = new Map<string, Promise<void>>();
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
  add(channel: string, floor: number, notify = false): string {
    if (!this.pending.has(channel) && this.pending.size >= MAX_PENDING_MARKS) channel = this.allChannel;
    const was = this.pending.get(channel);
    this.pending.set(channel, { floor: Math.max(was?.floor ?? 0, floor), notify: notify || was?.notify === true });
    this.schedule();
    return channel;
  }

  /**
   * Marks the history of `channel` above `floor` now: as soon as its slot
   * takes writes (its master's connection ready and settled) and no outage
   * lane holds anything of it, so nothing has to reach clients before the
   * mark (out of order, the recipients got every offset up to `floor`).
   * Settles once the mark is written, or after `commandTimeoutMs` at most
   * (the bound: a slot away, an outage lane, a call that failed or did not
   * answer in time), the mark then still pending and written as
   * {@link add}'s are. Marks of one history are written one after the other.
   */
  now(channel: string, floor: number): Promise<void> {
    const marked = this.add(channel, floor);
    const deadline = Date.now() + this.parts.commands.timeoutMs;
    const done = (this.writing.get(marked) ?? Promise.resolve()).then(() => this.writeOnceOpen(marked, deadline));
    this.writing.set(marked, done);
    void done.then(() => {
      if (this.writing.get(marked) === done) this.writing.delete(marked);
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const bound = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
      timer.unref();
    });
    return Promise.race([done, bound]).finally(() => clearTimeout(timer));
  }

  /** Writes the mark of `channel` once its slot takes writes, unless that is past `deadline`. */
  private async writeOnceOpen(channel: string, deadline: number): Promise<void> {
    const { commands, routes, publisher } = this.parts;
    const { slot } = clusterHistoryKeys(channel);
    for (let polls = 0; !this.closed; polls++) {
      if (commands.writable && routes.open(slot) && publisher.heldIn(slot) === 0) return this.writeOne(channel);
      if (Date.now() > deadline) return;
      await new Promise((resolve) => setTimeout(resolve, polls < 20 ? 5 : 50));
    }
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
    const { commands, routes, publisher } = this.parts;
    for (const channel of [...this.pending.keys()]) {
      if (this.closed) return;
      const keys = clusterHistoryKeys(channel);
      if (this.writing.has(channel) || !commands.writable || !routes.open(keys.slot) || publisher.heldIn(keys.slot) > 0) continue;
      await this.writeOne(channel);
    }
    this.schedule();
  }

  /** Writes the pending mark of `channel`, if any; never throws (a failure is reported, the mark stays pending). */
  private async writeOne(channel: string): Promise<void> {
    const mark = this.pending.get(channel);
    if (!mark || this.closed) return;
    const { commands, reporter } = this.parts;
    const keys = clusterHistoryKeys(channel);
    const named = mark.notify ? ['4', keys.seq, keys.own, keys.lost, keys.channel] : ['3', keys.seq, keys.own, keys.lost];
    try {
      await commands.timed(clusterHistoryScripts(commands.redis).wshubClusterMarkLost(...named, String(mark.floor), String(this.ttlMs)), 'a lost mark');
      if (this.pending.get(channel) === mark) this.pending.delete(channel);
    } catch (error) {
      reporter.report('history', new Error(`wshub: marking lost history in Redis failed: ${(error as Error).message}`));
    }
  }
}
