import a from './a-broadcast.mjs';
import b from './b-targeted.mjs';
import c from './c-connections.mjs';
import d from './d-push-allow.mjs';
import e from './e-scoped.mjs';
import f from './f-cluster.mjs';
import g from './g-idle.mjs';
import h from './h-workers.mjs';
import i from './i-redis-cluster.mjs';
import j from './j-workers-throughput.mjs';

/** A scenario with `optIn: true` runs only when named in `--scenarios`. */
export const SCENARIOS = [a, b, c, d, e, f, g, h, i, j];
