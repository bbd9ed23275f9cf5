import type { WebSocket } from 'ws';
import type { PreparedMessage } from './hub-core.js';

export type HubCoreSocket = WebSocket;

const TEXT = { binary: false } as const;

/**
 * Writes a prepared message to a `ws` socket. The UTF-8 bytes are made once
 * per message and cached on it, so a broadcast does not re-encode the text
 * for every socket.
 */
export function writePrepared(socket: HubCoreSocket, message: PreparedMessage): void {
  let bytes = message.encoded as Buffer | undefined;
  if (bytes === undefined) {
    bytes = Buffer.from(message.text);
    message.encoded = bytes;
  }
  socket.send(bytes, TEXT);
}
