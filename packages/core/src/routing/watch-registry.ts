/**
 * What the registry needs from a session: its watch map (event → scopes,
 * `null` = wildcard, the shape of `@kovalenko/nestjs-websocket`'s
 * `AuthWebSocket.watching`), which the registry makes on the first watch.
 */
export interface Watcher {
  watches: Map<string, Set<string | null>> | undefined;
}

/**
 * Which sockets watch what, kept in two structures in step (as socket.io's
 * in-memory adapter keeps `rooms` and `sids`):
 * - per session, `session.watches` (event → scopes), made on its first watch;
 * - per event, an index scope → sockets, so delivery to watchers touches
 *   only the matching sockets instead of scanning every socket.
 * Empty entries are deleted on the way out, so memory follows live watches.
 */
export class WatchRegistry<S extends Watcher> {
  private readonly index = new Map<string, Map<string | null, Set<S>>>();

  /** Registers a watch; false when the socket already had exactly this one. */
  add(socket: S, event: string, payload: string | null): boolean {
    let scopes = socket.watches?.get(event);
    if (scopes?.has(payload)) return false;
    if (!scopes) {
      scopes = new Set();
      socket.watches ??= new Map();
      socket.watches.set(event, scopes);
    }
    scopes.add(payload);
    let byScope = this.index.get(event);
    if (!byScope) {
      byScope = new Map();
      this.index.set(event, byScope);
    }
    let sockets = byScope.get(payload);
    if (!sockets) {
      sockets = new Set();
      byScope.set(payload, sockets);
    }
    sockets.add(socket);
    return true;
  }

  /** Removes exactly (event, payload); false when it was not registered. */
  remove(socket: S, event: string, payload: string | null): boolean {
    const scopes = socket.watches?.get(event);
    if (!scopes?.delete(payload)) return false;
    if (scopes.size === 0) socket.watches?.delete(event);
    const byScope = this.index.get(event);
    const sockets = byScope?.get(payload);
    if (byScope && sockets) {
      sockets.delete(socket);
      if (sockets.size === 0) byScope.delete(payload);
      if (byScope.size === 0) this.index.delete(event);
    }
    return true;
  }

  /** Removes every watch of a socket (it closed). */
  removeSocket(socket: S): void {
    if (!socket.watches) return;
    for (const [event, scopes] of [...socket.watches]) {
      for (const payload of [...scopes]) this.remove(socket, event, payload);
    }
  }

  /** Number of (event, payload) watches a socket holds. */
  countOf(socket: S): number {
    let n = 0;
    if (socket.watches) for (const scopes of socket.watches.values()) n += scopes.size;
    return n;
  }

  /**
   * Every socket matching `event` under a watcher filter, each once:
   * `true` → watching the event with any scope; a string → watching that
   * scope or the wildcard.
   */
  match(event: string, filter: true | string): Set<S> {
    const out = new Set<S>();
    const byScope = this.index.get(event);
    if (!byScope) return out;
    if (filter === true) {
      for (const sockets of byScope.values()) for (const s of sockets) out.add(s);
      return out;
    }
    const exact = byScope.get(filter);
    if (exact) for (const s of exact) out.add(s);
    const wildcard = byScope.get(null);
    if (wildcard) for (const s of wildcard) out.add(s);
    return out;
  }

  /** Number of distinct events with at least one watcher (for stats and tests). */
  get eventCount(): number {
    return this.index.size;
  }
}
