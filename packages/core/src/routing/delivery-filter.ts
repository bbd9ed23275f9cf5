import type { Watcher } from './watch-registry.js';

/**
 * The normalised `isWatchingOrPayload` argument:
 * - `null`: every socket of the user (argument absent, `null` or `false`);
 * - `true`: sockets watching the event, with any scope or the wildcard;
 * - a string: sockets watching the event with that scope, or the wildcard.
 */
export type DeliveryFilter = null | true | string;

/** What callers may pass as `isWatchingOrPayload`. */
export type WatchFilterArg = boolean | string | number | null | undefined;

/** Normalises `isWatchingOrPayload`; a number becomes its decimal string, as watch payloads do. */
export function toDeliveryFilter(value: WatchFilterArg): DeliveryFilter {
  if (value === undefined || value === null || value === false) return null;
  if (value === true) return true;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  throw new TypeError(
    `wshub: "isWatchingOrPayload" must be a boolean, a string or a finite number, got ${describe(value)}`,
  );
}

/** Whether one socket passes the filter for `event`. */
export function matchesFilter(socket: Watcher, event: string, filter: DeliveryFilter): boolean {
  if (filter === null) return true;
  const scopes = socket.watches?.get(event);
  if (!scopes) return false;
  if (filter === true) return true;
  return scopes.has(filter) || scopes.has(null);
}

function describe(value: unknown): string {
  if (typeof value === 'number') return String(value);
  return typeof value === 'object' ? 'an object' : typeof value;
}
