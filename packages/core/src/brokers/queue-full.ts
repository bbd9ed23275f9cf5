/**
 * The errors a broker refuses sends with when its queue is full (see
 * `Broker.admit`), cheap enough to make by the hundred thousand.
 *
 * Why: only an app that does not await its sends fills the queue, and such
 * an app makes a whole loop of them in one turn, so every send past the
 * limit is refused before any rejection is handled. An error with a stack
 * trace holds about a kilobyte, and its frames keep the refused call's
 * closure and data alive: 150,000 refusals ran a 128 MB process out of
 * memory, defeating the limit they enforce. So the first refusal after the
 * queue took sends again has a stack (it shows where the app sends from),
 * and the ones that follow in that run have none; all of them share one
 * message text.
 */
export class QueueFullErrors {
  private refusing = false;

  /** `message`: the same text for every refusal (what is full, and what to do). */
  constructor(private readonly message: string) {}

  /** A send was taken: the next refusal starts a run again. */
  taken(): void {
    this.refusing = false;
  }

  /** The error for a send refused now. */
  next(): RangeError {
    if (!this.refusing) {
      this.refusing = true;
      return new RangeError(this.message);
    }
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      return new RangeError(this.message);
    } finally {
      Error.stackTraceLimit = limit;
    }
  }
}
