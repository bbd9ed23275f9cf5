/** The original module under Nest: `class-transformer`'s `instanceToPlain` once per recipient, then stringify + send. */
import { instanceToPlain } from 'class-transformer';
import { naiveLoop } from './naive-loop.mjs';

export const start = naiveLoop((data) => instanceToPlain(data));
