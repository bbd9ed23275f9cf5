/**
 * Frame-level writers for the `ws` limit contenders. They write a frame
 * built once per message straight to each WebSocket's underlying socket
 * (`ws._socket`), skipping ws's per-send framing. Fine for a benchmark
 * baseline (no compression, no fragmentation); the hub's production
 * version, with its safety checks, is `packages/core/src/transport/frame-writer.ts`.
 */
import { Sender } from 'ws';

const TEXT_FRAME = { fin: true, opcode: 0x01, mask: false, readOnly: false, rsv1: false };

/** A complete unmasked text frame for `text`, as one Buffer. */
export function textFrame(text) {
  const [header, payload] = Sender.frame(Buffer.from(text), TEXT_FRAME);
  return payload ? Buffer.concat([header, payload]) : header;
}

/** One `write` per socket per message. */
export function writeFrame(ws, frame) {
  ws._socket.write(frame);
}

/** Sockets corked during this tick, uncorked together on the next one. */
const corked = new Set();
let flushQueued = false;

function flush() {
  flushQueued = false;
  for (const socket of corked) socket.uncork();
  corked.clear();
}

/**
 * Corks the socket on its first write of the tick and uncorks every corked
 * socket on `process.nextTick`: all frames a socket gets in one tick leave
 * in one `writev`.
 */
export function writeFrameCoalesced(ws, frame) {
  const socket = ws._socket;
  if (!corked.has(socket)) {
    socket.cork();
    corked.add(socket);
    if (!flushQueued) {
      flushQueued = true;
      process.nextTick(flush);
    }
  }
  socket.write(frame);
}
