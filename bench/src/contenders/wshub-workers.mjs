/**
 * wshub on `node:cluster` workers (scenario H): each worker runs a `WsHub`
 * with a `WorkerBroker`; the primary runs the `WorkerRelay`. Same auth and
 * heartbeat options as the single-process contender.
 */
import { WorkerBroker, WorkerRelay } from '@wshub/core';
import { start as startHub } from './wshub-core.mjs';

/** @param {import('./contract.mjs').StartContext} ctx */
export function start(ctx) {
  return startHub(ctx, { broker: new WorkerBroker() });
}

export function primary() {
  new WorkerRelay();
}
