export { HubClient } from './hub-client.js';
export { Subscription } from './subscription.js';
export { ClientBugError } from './client-bug-error.js';
export { DEFAULT_CONFIRM_BATCH, DEFAULT_MAX_QUEUED_MESSAGES, DEFAULT_RECONNECT } from './options.js';
export type { ConfirmBatchOptions, HubClientOptions, QueryValue, ReconnectOptions } from './options.js';
export type { SubscriptionStatus } from './subscription.js';
export type {
  AllEvents,
  ClientEvents,
  CloseInfo,
  ConnectionState,
  EventMapOf,
  ForbiddenWatch,
  Recovered,
  Handler,
  ReceivedMessage,
  ReservedEvent,
} from './events.js';
export type { WebSocketConstructor, WebSocketLike } from './websocket.js';
export type { ExceptionReply } from '@wshub/core/protocol';
