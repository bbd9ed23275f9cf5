/**
 * wshub with a pending budget as large as the open-files limit
 * (`limits.maxPendingSockets: 20,000`, default 1,000): in G, what the
 * budget costs a reconnect storm whose auth lookup is the bottleneck.
 */
import { start as startHub } from './wshub-core.mjs';

/** @param {import('./contract.mjs').StartContext} ctx */
export function start(ctx) {
  return startHub(ctx, { limits: { maxPendingSockets: 20_000 } });
}
