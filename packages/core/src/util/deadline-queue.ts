/** `setTimeout` takes at most 2^31-1 ms (~24.8 days); a later deadline is looked at again then. */
const LONGEST_WAIT = 2 ** 31 - 1;

/**
 * One thing to do at a time, kept by a {@link DeadlineQueue}. The owner
 * keeps the object and moves it (`set`) or takes it out (`delete`). A
 * subclass says what it does in `fire`, with its state in fields, so an
 * entry costs no closure; `Deadline.of(callback)` makes one that calls a
 * function.
 */
export abstract class Deadline {
  /** When it is due, in ms since the epoch. */
  at = 0;
  /** Order of scheduling: deadlines due at the same ms fire in the order they were set. */
  seq = 0;
  /** Its index in the queue's heap; -1 while not queued. */
  slot = -1;

  /** A deadline that calls `callback` when due. */
  static of(callback: () => void): Deadline {
    return new CallbackDeadline(callback);
  }

  get queued(): boolean {
    return this.slot >= 0;
  }

  /** Called by the queue once it is due (and already out of the queue). */
  abstract fire(): void;
}

class CallbackDeadline extends Deadline {
  constructor(private readonly callback: () => void) {
    super();
  }

  override fire(): void {
    this.callback();
  }
}

/**
 * Many deadlines behind one Node timer: a binary min-heap ordered by due
 * time, and one `setTimeout` armed for the earliest. Setting, moving and
 * deleting a deadline costs O(log n); 100,000 sessions that expire hold one
 * timer, not one (or two) each. Times are exact to the millisecond, as with
 * one timer each: when the timer fires, every deadline whose time has come
 * (by `Date.now()`) fires, earliest first, and the timer is armed again for
 * the next. A deadline that is deleted or moved later leaves the timer as it
 * is (it fires early, finds nothing due, and re-arms), so a refresh costs no
 * timer call; the timer is cleared when the queue empties.
 *
 * The timer is `unref`'d: pending deadlines do not keep the process alive.
 * A `fire` that throws does not stop the others or the queue.
 */
export class DeadlineQueue {
  private readonly heap: Deadline[] = [];
  private seq = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** When the armed timer fires (ms since the epoch); Infinity when none is armed. */
  private armedFor = Number.POSITIVE_INFINITY;
  /** Set while due deadlines fire: re-arming waits until they have. */
  private firing = false;

  constructor(private readonly onError: (error: unknown) => void = rethrowLater) {}

  /** Deadlines waiting. */
  get size(): number {
    return this.heap.length;
  }

  /** Schedules `deadline` at `at` (ms since the epoch), or moves it there if it is queued. */
  set(deadline: Deadline, at: number): void {
    deadline.at = at;
    deadline.seq = this.seq++;
    if (deadline.slot < 0) {
      deadline.slot = this.heap.length;
      this.heap.push(deadline);
      this.up(deadline.slot);
    } else {
      // A new sequence number or time may move it either way.
      this.down(this.up(deadline.slot));
    }
    this.arm();
  }

  /** Takes `deadline` out; nothing happens if it is not queued. */
  delete(deadline: Deadline): void {
    const slot = deadline.slot;
    if (slot < 0) return;
    deadline.slot = -1;
    const last = this.heap.pop() as Deadline;
    if (last !== deadline) {
      this.heap[slot] = last;
      last.slot = slot;
      this.down(this.up(slot));
    }
    if (this.heap.length === 0) this.disarm();
  }

  /** Takes every deadline out without firing it, and clears the timer. */
  clear(): void {
    for (const deadline of this.heap) deadline.slot = -1;
    this.heap.length = 0;
    this.disarm();
  }

  private due(): void {
    this.timer = undefined;
    this.armedFor = Number.POSITIVE_INFINITY;
    const now = Date.now();
    this.firing = true;
    try {
      for (let first = this.heap[0]; first !== undefined && first.at <= now; first = this.heap[0]) {
        this.delete(first);
        try {
          first.fire();
        } catch (error) {
          this.onError(error);
        }
      }
    } finally {
      this.firing = false;
      this.arm();
    }
  }

  /** Arms the timer for the earliest deadline, unless it is armed for that time or earlier. */
  private arm(): void {
    const first = this.heap[0];
    if (this.firing || first === undefined || first.at >= this.armedFor) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    const wait = Math.min(Math.max(0, first.at - Date.now()), LONGEST_WAIT);
    this.armedFor = first.at;
    this.timer = setTimeout(() => this.due(), wait);
    this.timer.unref?.();
  }

  private disarm(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = Number.POSITIVE_INFINITY;
  }

  private before(a: Deadline, b: Deadline): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  /** Moves the deadline at `slot` towards the root while it is due before its parent; returns where it ends. */
  private up(slot: number): number {
    const heap = this.heap;
    const item = heap[slot] as Deadline;
    while (slot > 0) {
      const parentSlot = (slot - 1) >> 1;
      const parent = heap[parentSlot] as Deadline;
      if (!this.before(item, parent)) break;
      heap[slot] = parent;
      parent.slot = slot;
      slot = parentSlot;
    }
    heap[slot] = item;
    item.slot = slot;
    return slot;
  }

  /** Moves the deadline at `slot` towards the leaves while a child is due before it. */
  private down(slot: number): void {
    const heap = this.heap;
    const item = heap[slot] as Deadline;
    const length = heap.length;
    for (;;) {
      const left = 2 * slot + 1;
      if (left >= length) break;
      const right = left + 1;
      const child = right < length && this.before(heap[right] as Deadline, heap[left] as Deadline) ? right : left;
      const next = heap[child] as Deadline;
      if (!this.before(next, item)) break;
      heap[slot] = next;
      next.slot = slot;
      slot = child;
    }
    heap[slot] = item;
    item.slot = slot;
  }
}

/** A throwing `fire` without an `onError`: thrown from its own task, as a throwing timer callback would be. */
function rethrowLater(error: unknown): void {
  queueMicrotask(() => {
    throw error;
  });
}
