/**
 * Key of `HubClient`'s recovery position (`{ epoch, offset }`), for the
 * shared connection: a leader tab reads it as messages go out, and the next
 * leader's client starts from it. Not exported from the package.
 */
export const recoveryPosition: unique symbol = Symbol('recoveryPosition');
