/** The packages' own suites on Node 24, half 1 of them: see `src/node-suites.ts`. */
import { suitesOn } from '../src/node-suites.js';

await suitesOn(24, 1);
