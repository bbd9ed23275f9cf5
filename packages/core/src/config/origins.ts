import type { HubOptions } from './options.js';

/** The `allowedOrigins` option as one test of a connection's `Origin` header; `undefined` when any origin may connect. */
export function originRule(
  origins: HubOptions<never, never>['allowedOrigins'],
): ((origin: string | undefined) => boolean) | undefined {
  if (typeof origins === 'function') return origins;
  if (!origins) return undefined;
  const list = new Set(origins);
  // Exact match only: no prefix/suffix tricks. Non-browser clients send no Origin.
  return (origin) => origin === undefined || list.has(origin);
}
