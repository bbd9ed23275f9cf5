/** Per-socket `JSON.stringify` + `send`: the original module's loop, without a serializer. */
import { naiveLoop } from './naive-loop.mjs';

export const start = naiveLoop((data) => data);
