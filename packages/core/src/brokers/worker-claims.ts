/**
 * Same-worker sends without the primary: a worker that holds a user alone
 * delivers to it with no IPC, so every other worker that comes to hold the
 * user must first make sure the holder knows. The relay keeps, per user,
 * the holders it told "no longer alone" that have not said `noted` yet, and
 * the claims (a worker about to admit its first socket of the user) that
 * wait for them: a claim is answered once none is left.
 */
export class ClaimWaits<L> {
  private readonly waits = new Map<string, { awaiting: Set<L>; claims: Array<[link: L, id: number]> }>();

  /** `answer` tells a claimer it may admit; it says then whether the claimer holds the user alone. */
  constructor(private readonly answer: (link: L, id: number, userId: string) => void) {}

  /** `holder` was told it no longer holds `userId` alone. */
  told(userId: string, holder: L): void {
    let wait = this.waits.get(userId);
    if (!wait) {
      wait = { awaiting: new Set(), claims: [] };
      this.waits.set(userId, wait);
    }
    wait.awaiting.add(holder);
  }

  /** A claim: answered now when no holder has anything left to learn. */
  claim(userId: string, link: L, id: number): void {
    const wait = this.waits.get(userId);
    if (wait) wait.claims.push([link, id]);
    else this.answer(link, id, userId);
  }

  /**
   * `holder` learned it (its `noted`), or no longer holds the user (it left
   * or died: a dead worker's acknowledgement is not awaited).
   */
  settled(userId: string, holder: L): void {
    const wait = this.waits.get(userId);
    if (!wait?.awaiting.delete(holder) || wait.awaiting.size > 0) return;
    this.waits.delete(userId);
    for (const [link, id] of wait.claims) this.answer(link, id, userId);
  }
}
