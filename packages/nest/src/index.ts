export { WsModule } from './ws.module.js';
export { WS_MODULE_OPTIONS } from './ws-module-options.js';
export type { WsModuleAsyncOptions, WsModuleOptions } from './ws-module-options.js';
export { ClientConnectedEvent } from './events/client-connected.event.js';
export { ClientReadyEvent } from './events/client-ready.event.js';
export { ClientDisconnectedEvent } from './events/client-disconnected.event.js';
export { IsAllowedToWatchEvent } from './events/is-allowed-to-watch.event.js';
export { ClientMessageEvent } from './events/client-message.event.js';
export { SendMessageCommand } from './commands/send-message.command.js';
export { PushCommand } from './commands/push.command.js';
export { DisconnectWsClientCommand } from './commands/disconnect-ws-client.command.js';
export { UpdateWsClientCommand } from './commands/update-ws-client.command.js';
export { WatchEventDto } from './watch-event.dto.js';
export type { AuthWebSocket } from './auth-web-socket.js';
export type { WsPath } from './path.js';
// The hub itself, so apps can inject it by the same class without importing core.
export { CloseCode, WsHub } from '@wshub/core';
export type { HubStats, HubUser, WsHubSocket } from '@wshub/core';
