import { createRequire } from 'node:module';

type InstanceToPlain = (data: unknown) => unknown;

/** Loaded on first use: apps that pass `forRoot({ serialize })` need not install class-transformer. */
let instanceToPlain: InstanceToPlain | undefined;

/**
 * class-transformer's `instanceToPlain`, loaded with `require` so the ESM and
 * CommonJS builds share the app's one copy (and its decorator metadata).
 * A missing package is reported as the setting it is, not as a stack trace.
 * `load` is for tests.
 */
export function loadInstanceToPlain(load: (id: string) => unknown = createRequire(import.meta.url)): InstanceToPlain {
  try {
    return (load('class-transformer') as { instanceToPlain: InstanceToPlain }).instanceToPlain;
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND' && String(error).includes("'class-transformer'");
    if (!missing) throw error;
    throw new Error(
      "@wshub/nest: WsModule's default serializer needs the package class-transformer, which is not installed. " +
        'Install it (npm install class-transformer), or pass WsModule.forRoot({ serialize }) your own conversion, ' +
        'e.g. serialize: (data) => data to send data through JSON.stringify as it is.',
      { cause: error },
    );
  }
}

/**
 * The default `serialize`: {@link toPlain}, with class-transformer loaded now,
 * so a missing package stops the app at startup rather than at its first message.
 */
export function defaultSerializer(): (data: unknown) => unknown {
  instanceToPlain ??= loadInstanceToPlain();
  return toPlain;
}

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
  if (isPlain(data, 0)) return data;
  instanceToPlain ??= loadInstanceToPlain();
  return instanceToPlain(data);
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
