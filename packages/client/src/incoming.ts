import type { ReservedEvent } from './events.js';

/** A server frame, checked: a JSON object with a string `event`. */
export interface IncomingFrame {
  event: string;
  data: unknown;
  /** The message's place in the server's history (recovery, protocol v2). */
  offset: number | undefined;
  /** The message's id, to confirm (receipts, protocol v2). */
  id: string | undefined;
  /**
   * What the server sent it for (protocol v2): a watch scope, `true` for
   * every watcher of the event, `undefined` for the whole user.
   */
  scope: string | true | undefined;
}

const RESERVED: ReadonlySet<string> = new Set<ReservedEvent>([
  'state',
  'close',
  'unauthorized',
  'ended',
  'forbidden',
  'exception',
  'recovered',
  'error',
  'watch',
  'unwatch',
] satisfies ReservedEvent[]);

const hasOwn = Object.prototype.hasOwnProperty;

/**
 * Reads one frame the server sent; an `Error` whose message says what was
 * wrong with it (binary, not JSON, no string `event`).
 */
export function parseFrame(raw: unknown): IncomingFrame | Error {
  if (typeof raw !== 'string') {
    return new Error('wshub client: the server sent a binary frame; wshub messages are JSON text');
  }
  let message: unknown;
  try {
    message = JSON.parse(raw);
  } catch {
    return new Error(`wshub client: the server sent a frame that is not JSON: ${clip(raw)}`);
  }
  const event = isObject(message) && hasOwn.call(message, 'event') ? message.event : undefined;
  if (typeof event !== 'string') {
    return new Error(`wshub client: the server sent a frame without a string "event": ${clip(raw)}`);
  }
  const data = isObject(message) && hasOwn.call(message, 'data') ? message.data : undefined;
  const offset = isObject(message) && typeof message.offset === 'number' ? message.offset : undefined;
  const id = isObject(message) && typeof message.id === 'string' ? message.id : undefined;
  const scope = isObject(message) && (typeof message.scope === 'string' || message.scope === true) ? message.scope : undefined;
  return { event, data, offset, id, scope };
}

/** A name the client uses for its own events (or `watch`/`unwatch`): never handed to the app's handlers. */
export function isReservedName(event: string): boolean {
  return RESERVED.has(event);
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export function clip(text: string): string {
  return text.length > 100 ? `${JSON.stringify(text.slice(0, 100))}…` : JSON.stringify(text);
}
