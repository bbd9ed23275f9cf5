import { instanceToPlain } from 'class-transformer';

/** Deeper than this, the value goes to class-transformer (which also owns cycles). */
const MAX_DEPTH = 32;

/**
 * `instanceToPlain(data)`, without its cost when `data` is already plain.
 *
 * Data made only of plain objects (`{}` literals or `Object.create(null)`),
 * arrays without holes, strings, numbers, booleans, `null` and `undefined` has no class
 * for class-transformer to read decorators from, so converting it would
 * only copy it: such data is returned as it is, and `JSON.stringify` makes
 * the same text of it. Anything else anywhere inside — a class instance, a
 * `Date`, a `Map`, a function, a bigint — sends the whole value through
 * `instanceToPlain`, as before.
 *
 * One difference, in the app's favour: own `__proto__` and `constructor`
 * keys of plain data (e.g. from `JSON.parse`) are sent as they are, where
 * class-transformer drops the first and throws on the second.
 */
export function toPlain(data: unknown): unknown {
  return isPlain(data, 0) ? data : instanceToPlain(data);
}

function isPlain(value: unknown, depth: number): boolean {
  switch (typeof value) {
    case 'string':
    case 'number':
    case 'boolean':
    case 'undefined':
      return true;
    case 'object':
      break;
    default:
      return false;
  }
  if (value === null) return true;
  if (depth >= MAX_DEPTH) return false;
  const proto = Object.getPrototypeOf(value);
  if (proto === Array.prototype) {
    const array = value as unknown[];
    for (let i = 0; i < array.length; i++) {
      // class-transformer drops the holes of a sparse array; JSON writes null.
      if (!(i in array) || !isPlain(array[i], depth + 1)) return false;
    }
    return true;
  }
  if (proto !== Object.prototype && proto !== null) return false;
  for (const key in value) {
    if (!isPlain((value as Record<string, unknown>)[key], depth + 1)) return false;
  }
  return true;
}
