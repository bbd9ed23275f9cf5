/**
 * Key of `HubClient`'s recovery position (`{ epoch, offset }`), for the
 * shared connection: a leader tab reads it as messages go out, and the next
 * leader's client starts from it. Not exported from the package.
 */
export const recoveryPosition: unique symbol = Symbol('recoveryPosition');

/**
 * Key of the scope (protocol v2 `"scope"`) of the message `HubClient` is
 * handing to its handlers: the shared connection routes it to the tabs it
 * is for. Not exported from the package.
 */
export const messageScope: unique symbol = Symbol('messageScope');
