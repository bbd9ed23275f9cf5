export { WsHub } from './transport/ws-hub.js';
export type { WsHubSocket } from './transport/ws-hub.js';
export { Hub } from './hub/hub.js';
export type { CloseOptions, HubEvents, HubSocket, HubSocketFields, HubStats } from './hub/hub.js';
export type { Connection, OpenOptions, PreparedMessage, Session } from './session/connection.js';
export type { HubObserver } from './hub/hub-observer.js';
export { type HealthCheck, hubHealth, type HealthSource, type HubHealth, type HubHealthOptions } from './util/health.js';
export { MemoryHistory } from './brokers/history.js';
export type { HistoryEntry, HistoryRecord, MessageHistory, RecordedMessage, RecoveryLimits } from './brokers/history.js';
export type { PushAllow, PushData } from './hub/push.js';
export type { SendOptions } from './brokers/recent-ids.js';
export { DEFAULT_RECEIPTS } from './config/receipts.js';
export type { ReceiptLimits, ReceiptOptions } from './config/receipts.js';
export type { MessageDelivered, MessageUndelivered } from './hub/receipts.js';
export { HubError } from './protocol/errors.js';
export { DEFAULT_AUTH_TIMEOUT_MS, DEFAULT_HEARTBEAT_MS, DEFAULT_LIMITS, DEFAULT_RECOVERY } from './config/options.js';
export type { HubLimits, HubOptions, HubRequest, HubUser, RecoveryOptions, RefreshContext, WatchContext } from './config/options.js';
export { activeTraceparent } from './config/tracing.js';
export { isTraceparent } from './protocol/traceparent.js';
export type { TracingOptions, TraceUserIds } from './config/tracing.js';
export { LocalBroker } from './brokers/broker.js';
export type { Broker, BrokerNode, Envelope, PresenceChange, ReceiptEnvelope } from './brokers/broker.js';
export { ClusterBroker, MAX_ENVELOPE_BYTES } from './brokers/cluster-broker.js';
export type { ClusterBrokerStats } from './brokers/cluster-broker.js';
export type { BrokerBus, BrokerPresence, BrokerRoles } from './brokers/roles.js';
export { InMemoryBroker, InMemoryBus } from './brokers/in-memory-broker.js';
export { QueueFullErrors } from './brokers/queue-full.js';
export { WorkerBroker } from './brokers/worker-broker.js';
export type { WorkerBrokerOptions } from './brokers/worker-broker.js';
export { WorkerRelay } from './brokers/worker-relay.js';
export type { WorkerRelayOptions, WorkerRelayStats } from './brokers/worker-relay.js';
export type { DeliveryFilter, WatchFilterArg } from './routing/delivery-filter.js';
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
} from './protocol/protocol.js';
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
} from './protocol/protocol.js';
