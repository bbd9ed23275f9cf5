/**
 * Per-user rooms: user id → that user's authorized sockets. A user's entry
 * exists exactly while they have at least one socket here, which is what a
 * broker needs to subscribe and unsubscribe per-user channels.
 */
export class UserRegistry<S> {
  private readonly rooms = new Map<string, Set<S>>();

  /** Adds a socket; true when it is the user's first socket on this node. */
  add(userId: string, socket: S): boolean {
    const room = this.rooms.get(userId);
    if (room) {
      room.add(socket);
      return false;
    }
    this.rooms.set(userId, new Set([socket]));
    return true;
  }

  /** Removes a socket; true when it was the user's last socket on this node. */
  remove(userId: string, socket: S): boolean {
    const room = this.rooms.get(userId);
    if (!room?.delete(socket)) return false;
    if (room.size > 0) return false;
    this.rooms.delete(userId);
    return true;
  }

  get(userId: string): ReadonlySet<S> | undefined {
    return this.rooms.get(userId);
  }

  has(userId: string): boolean {
    return this.rooms.has(userId);
  }

  userIds(): string[] {
    return [...this.rooms.keys()];
  }

  entries(): IterableIterator<[string, Set<S>]> {
    return this.rooms.entries();
  }

  values(): IterableIterator<Set<S>> {
    return this.rooms.values();
  }

  get size(): number {
    return this.rooms.size;
  }
}
