/**
 * Frames written with `send()` while the client is not open, in order, up to
 * `limit`. When full, new frames are refused rather than old ones dropped:
 * the server then receives a gap-free prefix of what the app sent.
 */
export class SendQueue {
  readonly #limit: number;
  #frames: string[] = [];

  constructor(limit: number) {
    this.#limit = limit;
  }

  get length(): number {
    return this.#frames.length;
  }

  /** False when the queue is full and `frame` was not kept. */
  push(frame: string): boolean {
    if (this.#frames.length >= this.#limit) return false;
    this.#frames.push(frame);
    return true;
  }

  /** Empties the queue and returns what it held, oldest first. */
  drain(): string[] {
    const frames = this.#frames;
    this.#frames = [];
    return frames;
  }
}
