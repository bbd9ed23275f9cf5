import a from './a-broadcast.mjs';
import b from './b-targeted.mjs';
import c from './c-connections.mjs';
import d from './d-push-allow.mjs';
import e from './e-scoped.mjs';
import f from './f-cluster.mjs';
import g from './g-idle.mjs';
import h from './h-workers.mjs';

export const SCENARIOS = [a, b, c, d, e, f, g, h];
