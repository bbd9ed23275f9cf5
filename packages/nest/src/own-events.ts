import type { ClientDisconnectedEvent } from './events/client-disconnected.event.js';

/**
 * The `ClientDisconnectedEvent`s the module published itself. The module also
 * handles `ClientDisconnectedEvent` as a request to disconnect, so it must
 * recognise its own: acting on one would close the user's other sessions on
 * that device after a single socket closed.
 */
const published = new WeakSet<ClientDisconnectedEvent>();

export function markPublishedByModule(event: ClientDisconnectedEvent): ClientDisconnectedEvent {
  published.add(event);
  return event;
}

export function isPublishedByModule(event: ClientDisconnectedEvent): boolean {
  return published.has(event);
}
