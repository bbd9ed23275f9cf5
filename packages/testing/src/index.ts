export { FakeHub } from './fake-hub.js';
export type { Delivery, FakeHubOptions, FakeHubSocket } from './fake-hub.js';
export { FakeSocket } from './fake-socket.js';
export type { FakeRequestInit } from './fake-request.js';
export { ConnectionRefusedError, SocketClosedError } from './connection-refused-error.js';
export { TestClient, connectTestClient } from './test-client.js';
export type { TestClientOptions } from './test-client.js';
export type { CloseInfo, NextOptions, ReceivedMessage } from './message-queue.js';
export type { WatchResult } from './watch-reply.js';
