/** One resume waiting for its channels. */
interface Wait {
  readonly channels: readonly string[];
  readonly resolve: (confirmed: boolean) => void;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/**
 * Resumes waiting for Redis to confirm their channels: what is recorded after
 * a history read must reach this node live, so a read waits for its
 * subscriptions. Each wait is woken by the confirmation itself (the
 * subscriber's `confirmed` event), not by polling: a thousand clients that
 * reconnect at once wait without a thousand timers firing every few ms.
 *
 * Memory: a wait per resume in flight, indexed by its channels; each is
 * gone once confirmed, timed out or closed.
 */
export class ConfirmWaits {
  private readonly byChannel = new Map<string, Set<Wait>>();

  constructor(private readonly isConfirmed: (channel: string) => boolean) {}

  /** True once every one of `channels` is confirmed; false after `timeoutMs` (or on close) if not. */
  until(channels: readonly string[], timeoutMs: number): Promise<boolean> {
    if (channels.every(this.isConfirmed)) return Promise.resolve(true);
    return new Promise((resolve) => {
      const wait: Wait = { channels, resolve, timer: undefined };
      wait.timer = setTimeout(() => this.end(wait, channels.every(this.isConfirmed)), timeoutMs);
      for (const channel of channels) {
        const waits = this.byChannel.get(channel);
        if (waits) waits.add(wait);
        else this.byChannel.set(channel, new Set([wait]));
      }
    });
  }

  /** Redis confirmed `channels`: the waits on them whose every channel is now confirmed go on. */
  confirmed(channels: readonly string[]): void {
    if (this.byChannel.size === 0) return;
    for (const channel of channels) {
      const waits = this.byChannel.get(channel);
      if (!waits) continue;
      for (const wait of [...waits]) if (wait.channels.every(this.isConfirmed)) this.end(wait, true);
    }
  }

  /** Every wait ends unconfirmed. */
  close(): void {
    for (const waits of [...this.byChannel.values()]) for (const wait of [...waits]) this.end(wait, false);
  }

  private end(wait: Wait, confirmed: boolean): void {
    clearTimeout(wait.timer);
    for (const channel of wait.channels) {
      const waits = this.byChannel.get(channel);
      if (!waits?.delete(wait)) continue;
      if (waits.size === 0) this.byChannel.delete(channel);
    }
    wait.resolve(confirmed);
  }
}
