/** The packages' own suites on Node 22, half 2 of them: see `src/node-suites.ts`. */
import { suitesOn } from '../src/node-suites.js';

await suitesOn(22, 2);
