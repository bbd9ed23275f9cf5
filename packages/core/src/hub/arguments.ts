import { isWellFormed } from '../session/handshake.js';
import { RESERVED_PREFIX } from '../protocol/protocol.js';

// Checks of the arguments of the hub's public methods: misuse fails at once, with a TypeError naming the argument.

function assertName(name: string, value: unknown): void {
  if (typeof value !== 'string' || value.length === 0) {
    throw new TypeError(`wshub: "${name}" must be a non-empty string, got ${value === '' ? 'an empty string' : typeof value}`);
  }
}

/** A user id no user can have (see {@link isWellFormed}) would reach the channel of another in Redis: refused. */
export function assertUserId(userId: unknown): void {
  assertName('userId', userId);
  if (!isWellFormed(userId as string)) {
    throw new TypeError('wshub: "userId" must be well-formed UTF-16, got a string with a lone surrogate');
  }
}

export function assertEvent(event: unknown): void {
  assertName('event', event);
  if ((event as string).startsWith(RESERVED_PREFIX)) {
    throw new TypeError(`wshub: event names starting with "${RESERVED_PREFIX}" are the protocol's own, got "${event}"`);
  }
}

