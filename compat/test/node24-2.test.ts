/** The packages' own suites on Node 24, half 2 of them: see `src/node-suites.ts`. */
import { suitesOn } from '../src/node-suites.js';

await suitesOn(24, 2);
