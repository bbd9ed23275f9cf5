export { FakeHubModule, WsTestingModule } from './ws-testing.module.js';
// The fake itself, so Nest tests need one import: `moduleRef.get(FakeHub)`.
export { ConnectionRefusedError, FakeHub, FakeSocket, SocketClosedError } from '../index.js';
export type { Delivery, FakeHubSocket, FakeRequestInit, ReceivedMessage, WatchResult } from '../index.js';
