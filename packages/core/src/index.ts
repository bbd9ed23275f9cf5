export { WsHub } from './ws-hub.js';
export type { WsHubSocket } from './ws-hub.js';
export { Hub } from './hub.js';
export type { CloseOptions, HubEvents, HubSocket, HubSocketFields, HubStats } from './hub.js';
export type { Connection, OpenOptions, PreparedMessage, Session } from './connection.js';
export type { HubObserver } from './hub-observer.js';
export { hubHealth, type HealthSource, type HubHealth, type HubHealthOptions } from './health.js';
export { MemoryHistory } from './history.js';
export type { HistoryEntry, HistoryRecord, MessageHistory, RecordedMessage, RecoveryLimits } from './history.js';
export type { PushAllow, PushData } from './push.js';
export type { SendOptions } from './recent-ids.js';
export { DEFAULT_RECEIPTS } from './receipts/options.js';
export type { ReceiptLimits, ReceiptOptions } from './receipts/options.js';
export type { MessageDelivered, MessageUndelivered } from './receipts/receipts.js';
export { HubError } from './errors.js';
export { DEFAULT_AUTH_TIMEOUT_MS, DEFAULT_HEARTBEAT_MS, DEFAULT_LIMITS, DEFAULT_RECOVERY } from './options.js';
export type { HubLimits, HubOptions, HubRequest, HubUser, RecoveryOptions, RefreshContext, WatchContext } from './options.js';
export type { TracingOptions, TraceUserIds } from './tracing.js';
export { ClusterBroker, LocalBroker, MAX_ENVELOPE_BYTES } from './broker.js';
export type { Broker, BrokerNode, ClusterBrokerStats, Envelope, PresenceChange, ReceiptEnvelope } from './broker.js';
export { InMemoryBroker, InMemoryBus } from './in-memory-broker.js';
export { WorkerBroker } from './worker-broker.js';
export type { WorkerBrokerOptions } from './worker-broker.js';
export { WorkerRelay } from './worker-relay.js';
export type { WorkerRelayOptions, WorkerRelayStats } from './worker-relay.js';
export type { DeliveryFilter, WatchFilterArg } from './delivery-filter.js';
export {
  ACK,
  CloseCode,
  CloseReason,
  CONFIRM,
  DEFAULT_PATH,
  EXCEPTION,
  EXPIRING,
  MAX_CONFIRM_IDS,
  MAX_WATCH_EVENT_LENGTH,
  MAX_WATCH_PAYLOAD_LENGTH,
  PROTOCOL_VERSION,
  REFRESH,
  RESUME,
  QUEUE_LIMIT_REASON,
  RATE_LIMIT_REASON,
  RESERVED_PREFIX,
  SUBPROTOCOL,
  UNWATCH,
  WATCH,
  WELCOME,
  closePolicy,
  describeValue,
  optionError,
  parseClientMessage,
  parsePosition,
  parseRequestId,
  parseWatchBody,
} from './protocol.js';
export type {
  Ack,
  ClientMessage,
  ClosePolicy,
  ExceptionReply,
  ForbiddenWatchReply,
  ParsedFrame,
  ParsedWatch,
  Position,
  RequestId,
  ServerMessage,
  WatchBody,
  Welcome,
} from './protocol.js';
