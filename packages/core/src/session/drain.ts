import { CloseCode } from '../protocol/protocol.js';
import type { SocketSession } from './socket-session.js';

/**
 * Closes `sessions` for `hub.close()` and resolves once the transport
 * reported each closed: all at once with 1001, or with 1012 spread over
 * `drainMs` (a rolling deploy: clients reconnect elsewhere a few at a time).
 */
export async function closeSessions(sessions: readonly SocketSession[], drainMs: number): Promise<void> {
  // Tracked here, not through 'disconnected': a handler can neither miss nor block it.
  const gone = sessions.map((session) => session.whenClosed());
  if (drainMs === 0) {
    for (const session of sessions) session.close(CloseCode.GoingAway);
  } else {
    await spread(sessions, drainMs, (session) => session.close(CloseCode.ServiceRestart));
  }
  await Promise.all(gone);
}

/** Calls `each` for every item, in slices of about 20 ms spread evenly over `ms`. */
async function spread<T>(items: readonly T[], ms: number, each: (item: T) => void): Promise<void> {
  const slices = Math.max(1, Math.min(items.length, Math.ceil(ms / 20)));
  const perSlice = Math.ceil(items.length / slices);
  for (let slice = 0; slice < slices; slice++) {
    for (const item of items.slice(slice * perSlice, (slice + 1) * perSlice)) each(item);
    if (slice < slices - 1) await new Promise((resolve) => setTimeout(resolve, ms / slices));
  }
}
