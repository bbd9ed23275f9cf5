import type { HubLimits } from '../config/options.js';
import { parseClientMessage, UNWATCH, WATCH } from '../protocol/protocol.js';

/** Largest watch/unwatch frame that counts against the pre-auth watch budget instead of `maxPendingMessages`. */
const MAX_PENDING_WATCH_BYTES = 1024;

function isWatchFrame(text: string): boolean {
  const frame = parseClientMessage(text);
  return frame.ok && (frame.event === WATCH || frame.event === UNWATCH);
}

/**
 * The frames a session keeps while `authenticate` is pending, within
 * `maxPendingBytes` and `maxPendingMessages`. A reconnecting client re-sends
 * all its watches before it can know it is authorized; small watch/unwatch
 * frames get their own count budget (twice `maxWatchesPerSocket`, 1 KiB
 * each) so that never trips 4429.
 */
export class PendingFrames {
  private frames: string[] = [];
  /** How many of `frames` are small watch/unwatch frames (budgeted apart). */
  private watches = 0;
  private bytes = 0;

  constructor(private readonly limits: Readonly<Required<HubLimits>>) {}

  /** Keeps a frame; false, keeping nothing, when it is over the budget. */
  keep(text: string, size: number): boolean {
    const { maxPendingMessages, maxPendingBytes, maxWatchesPerSocket } = this.limits;
    if (this.bytes + size > maxPendingBytes) return false;
    if (size <= MAX_PENDING_WATCH_BYTES && this.watches < 2 * maxWatchesPerSocket && isWatchFrame(text)) {
      this.watches++;
    } else if (this.frames.length - this.watches >= maxPendingMessages) {
      return false;
    }
    this.bytes += size;
    this.frames.push(text);
    return true;
  }

  /** The kept frames, in order; none are kept after. */
  take(): string[] {
    const kept = this.frames;
    this.frames = [];
    this.watches = 0;
    this.bytes = 0;
    return kept;
  }
}
