export { WsHub } from './ws-hub.js';
export type { WsHubSocket } from './ws-hub.js';
export { HubCore } from './hub-core.js';
export type {
  HubEvents,
  HubSocket,
  HubSocketFields,
  HubStats,
  PreparedMessage,
  PushAllow,
  PushData,
  TransportSocket,
} from './hub-core.js';
export { HubError } from './errors.js';
export { DEFAULT_AUTH_TIMEOUT_MS, DEFAULT_HEARTBEAT_MS, DEFAULT_LIMITS, resolveOptions } from './options.js';
export type { HubLimits, HubOptions, HubRequest, HubUser, ResolvedOptions, WatchContext } from './options.js';
export { ClusterBroker, LocalBroker, MAX_ENVELOPE_BYTES, decodeEnvelope } from './broker.js';
export type { Broker, BrokerNode, ClusterBrokerStats, Envelope, PresenceChange } from './broker.js';
export { InMemoryBroker, InMemoryBus } from './in-memory-broker.js';
export { WatchRegistry } from './watch-registry.js';
export type { Watcher } from './watch-registry.js';
export { UserRegistry } from './user-registry.js';
export { matchesFilter, toDeliveryFilter } from './delivery-filter.js';
export type { DeliveryFilter, WatchFilterArg } from './delivery-filter.js';
export {
  CloseCode,
  CloseReason,
  DEFAULT_PATH,
  EXCEPTION,
  MAX_WATCH_EVENT_LENGTH,
  MAX_WATCH_PAYLOAD_LENGTH,
  SUBPROTOCOL,
  UNWATCH,
  WATCH,
  closePolicy,
  parseClientMessage,
  parseWatchBody,
} from './protocol.js';
export type {
  ClientMessage,
  ClosePolicy,
  ExceptionReply,
  ForbiddenWatchReply,
  ParsedFrame,
  ParsedWatch,
  ServerMessage,
  WatchBody,
} from './protocol.js';
