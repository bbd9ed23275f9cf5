/** wshub with tracing as in `wshub-traced.mjs`, one trace in ten recorded (a parent-based ratio sampler). */
import { startTraced } from './wshub-traced.mjs';

/** @param {import('./contract.mjs').StartContext} ctx */
export const start = (ctx) => startTraced(ctx, 0.1);
