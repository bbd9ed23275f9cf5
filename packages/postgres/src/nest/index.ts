export { OutboxRelayHost, WS_OUTBOX_OPTIONS, WsOutboxModule } from './ws-outbox.module.js';
export type { WsOutboxModuleAsyncOptions, WsOutboxModuleOptions } from './ws-outbox.module.js';
export { WsOutboxHealthIndicator } from './ws-outbox.health-indicator.js';
export type { WsOutboxHealthResult } from './ws-outbox.health-indicator.js';
