export { TestSocket } from './test-socket.js';
export type { Closed, Received, TestSocketOptions } from './test-socket.js';
