import type { HubEvents, WsHub, WsHubSocket } from '@wshub/core';
import type { AllEvents, ConnectionState, EventMapOf, HubClient } from '../../src/index.js';
import type { TestUser } from './hub.js';

type AnyClient = HubClient<Record<string, unknown>, Record<string, unknown>>;

/** The data of the next `event` the client emits. */
export function nextEvent<E extends EventMapOf<E>, O extends EventMapOf<O>, K extends keyof AllEvents<E> & string>(
  client: HubClient<E, O>,
  event: K,
): Promise<AllEvents<E>[K]> {
  return new Promise((resolve) => {
    const off = client.on(event, (data) => {
      off();
      resolve(data);
    });
  });
}

/** Resolves when the client is in `state` (at once if it already is). */
export function inState(client: HubClient<any, any>, state: ConnectionState): Promise<void> {
  if (client.state === state) return Promise.resolve();
  return new Promise((resolve) => {
    const off = (client as AnyClient).on('state', (next) => {
      if (next !== state) return;
      off();
      resolve();
    });
  });
}

type Events = HubEvents<TestUser, WsHubSocket<TestUser>>;

/** Resolves at the next change to `state`; register it before causing the change. */
export function nextState(client: HubClient<any, any>, state: ConnectionState): Promise<void> {
  return new Promise((resolve) => {
    const off = (client as AnyClient).on('state', (next) => {
      if (next !== state) return;
      off();
      resolve();
    });
  });
}

/** The next hub event `name` that passes `test`. */
export function hubEvent<K extends Exclude<keyof Events, 'error'>>(
  hub: WsHub<TestUser>,
  name: K,
  test: (event: Events[K]) => boolean = () => true,
): Promise<Events[K]> {
  return new Promise((resolve) => {
    const handler = (event: Events[K]) => {
      if (!test(event)) return;
      hub.off(name, handler);
      resolve(event);
    };
    hub.on(name, handler);
  });
}

let syncs = 0;

/**
 * Round trip through the hub: sends a `sync` message and waits until the hub
 * handled it. The hub handles a socket's frames in order, so every frame the
 * client sent before (watches included) has been applied by then.
 */
export async function synced(client: HubClient<any, any>, hub: WsHub<TestUser>): Promise<void> {
  const id = ++syncs;
  const seen = hubEvent(hub, 'message', (m) => m.event === 'sync' && m.data === id);
  (client as AnyClient).send('sync', id);
  await seen;
}
