import type { HubSocketFields } from '@wshub/core';
import type { WebSocket } from 'ws';

/**
 * A connected socket: the `ws` WebSocket with the fields the hub keeps on it.
 * In `watching`, a `null` scope is a watch of every payload of that event.
 */
export interface AuthWebSocket<T = { id: string }> extends WebSocket, HubSocketFields<T> {}
