/**
 * Socket.IO on `node:cluster` workers (scenario J): each worker runs the
 * Socket.IO contender with `@socket.io/cluster-adapter`; the primary runs
 * its `setupPrimary()`, which relays packets between the workers over IPC.
 * No `@socket.io/sticky`: with the websocket transport only, a client's
 * session is one connection, so the workers share the port through
 * cluster's own round-robin, as wshub's workers do.
 */
import { createAdapter, setupPrimary } from '@socket.io/cluster-adapter';
import { start as startSocketIo } from './socketio.mjs';

/** @param {import('./contract.mjs').StartContext} ctx */
export function start(ctx) {
  return startSocketIo(ctx, { adapter: createAdapter() });
}

export function primary() {
  setupPrimary();
}
