import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import type { PreparedMessage } from '../session/connection.js';

/**
 * Writes prepared messages to `ws` sockets: framed once per message, and
 * coalesced so that a socket gets one write per event-loop tick however
 * many messages it is sent in that tick.
 *
 * Why: delivering a message costs about one syscall per socket, and on a
 * busy hub that, not JSON, is where the CPU goes (most of it kernel time).
 * `ws` frames every `send()` again and writes it on its own; writing a
 * frame built once straight to the socket halves the cost per delivery,
 * and coalescing a burst (ten pushes in one tick → one `writev` per
 * socket) divides it by the burst size.
 *
 * How, per socket and tick:
 * - The first write goes out at once (`write`): sparse traffic such as
 *   targeted sends keeps single-write latency; nothing waits for the rest
 *   of the tick.
 * - A second write in the same tick corks the socket; later ones queue
 *   behind it; all corked sockets are uncorked together on
 *   `process.nextTick`, each flushing its queue with one `writev`.
 * - A socket that got more than one write in its last busy tick is corked
 *   from its first write next time, so a steady stream of bursts leaves in
 *   one write per socket per tick. Latency added: at most the rest of the
 *   current tick, never another event-loop turn.
 *
 * Order per socket is kept: every byte goes through the one `net.Socket`
 * stream (ws's own pings and close frames too; cork only holds them back
 * in order). Backpressure and the slow-consumer rule stay with the hub:
 * corked and unsent bytes count in `bufferedAmount`, which it checks
 * before each write; a terminated socket drops what it had queued.
 *
 * This relies on `ws` internals, pinned in core's `package.json` and
 * checked by `test/frame-writer.test.ts`:
 * - `websocket._socket` is the `net.Socket` (or TLS socket) ws writes to;
 * - `websocket._sender._state === 0` and an empty `_sender._queue` mean no
 *   send of ws's own is in flight (compression, a Blob being read); when
 *   one is, the message goes through `websocket.send` so it queues behind
 *   it in order;
 * - `bufferedAmount` counts `_socket`'s unsent bytes.
 */

export type HubCoreSocket = WebSocket;

const TEXT = { binary: false } as const;

/** `ws`'s Sender state when nothing is being compressed or read. */
const SENDER_IDLE = 0;

/** The parts of a `ws` WebSocket this module reads. */
interface WsInternals {
  _socket?: Duplex | null;
  _sender?: { _state: number; _queue: unknown[] } | null;
}

/** Per raw socket: what happened to it in the tick it was last written. */
interface WriteState {
  /** The tick of the last write. */
  tick: number;
  /** Writes in that tick. */
  writes: number;
  /** Bytes written in that tick. */
  bytes: number;
  /** Corked by this module and waiting for the flush. */
  corked: boolean;
  /** Got more than one write in its last busy tick: cork from the first write. */
  burst: boolean;
}

const kWriteState = Symbol('wshub.frameWriter');
type RawSocket = Duplex & { [kWriteState]?: WriteState };

/** The frame built for a message on its first write, kept on the message for the other recipients. */
const kFrame = Symbol('wshub.frame');
type CachedMessage = PreparedMessage & { [kFrame]?: Buffer };

let tick = 0;
let flushQueued = false;
const corked: RawSocket[] = [];

/**
 * Writes a prepared message to a `ws` socket. The frame is built on the
 * first write and cached on the message, so a broadcast encodes once.
 * Never throws for a socket ws would accept a `send` on.
 */
export function writePrepared(socket: HubCoreSocket, message: PreparedMessage): void {
  const cached = message as CachedMessage;
  let frame = cached[kFrame];
  if (frame === undefined) {
    frame = textFrame(message.text, message.byteLength);
    cached[kFrame] = frame;
  }
  const internals = socket as unknown as WsInternals;
  const raw = internals._socket as RawSocket | null | undefined;
  const sender = internals._sender;
  if (!raw || !sender || sender._state !== SENDER_IDLE || sender._queue.length !== 0) {
    // ws has a send of its own in flight (or this is not a ws socket as we
    // know it): let ws queue the message behind it.
    socket.send(frame.subarray(headerLength(frame)), TEXT);
    return;
  }
  write(raw, frame);
}

function write(raw: RawSocket, frame: Buffer): void {
  if (!flushQueued) {
    flushQueued = true;
    process.nextTick(endTick);
  }
  let state = raw[kWriteState];
  if (state === undefined) {
    state = { tick: -1, writes: 0, bytes: 0, corked: false, burst: false };
    raw[kWriteState] = state;
  }
  if (state.tick !== tick) {
    state.tick = tick;
    state.writes = 1;
    state.bytes = frame.length;
    if (state.burst) cork(raw, state);
  } else {
    state.writes++;
    state.bytes += frame.length;
    if (!state.corked) cork(raw, state);
  }
  raw.write(frame);
}

/**
 * Bytes queued on a socket from earlier ticks and still not taken by the
 * OS: what the peer has not drained. Bytes written in the current tick are
 * left out, so a burst (corked until the end of the tick) never looks like
 * a slow reader; what is left of it next tick does.
 */
export function undrainedBytes(socket: HubCoreSocket): number {
  const buffered = socket.bufferedAmount;
  if (buffered === 0) return 0;
  const raw = (socket as unknown as WsInternals)._socket as RawSocket | null | undefined;
  const state = raw?.[kWriteState];
  if (state === undefined || state.tick !== tick) return buffered;
  return Math.max(0, buffered - state.bytes);
}

function cork(raw: RawSocket, state: WriteState): void {
  state.corked = true;
  raw.cork();
  corked.push(raw);
}

/** Ends the tick: every socket corked in it flushes its frames in one write. */
function endTick(): void {
  flushQueued = false;
  tick++;
  const list = corked.splice(0);
  for (const raw of list) {
    const state = raw[kWriteState]!;
    state.corked = false;
    state.burst = state.writes > 1;
    try {
      raw.uncork();
    } catch {
      // A stream that fails here has failed for good; its own 'error'/'close' follow.
    }
  }
}

/**
 * An unmasked, final WebSocket text frame (RFC 6455 §5.2) for `text`,
 * header and payload in one buffer. Same bytes as ws's `Sender.frame`.
 */
export function textFrame(text: string, byteLength = Buffer.byteLength(text)): Buffer {
  const offset = byteLength < 126 ? 2 : byteLength < 65536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(offset + byteLength);
  frame[0] = 0x81; // FIN + opcode 1 (text)
  if (offset === 2) {
    frame[1] = byteLength;
  } else if (offset === 4) {
    frame[1] = 126;
    frame.writeUInt16BE(byteLength, 2);
  } else {
    frame[1] = 127;
    frame[2] = 0;
    frame[3] = 0;
    frame.writeUIntBE(byteLength, 4, 6);
  }
  frame.write(text, offset, 'utf8');
  return frame;
}

/** Length of the header of a frame made by {@link textFrame}. */
export function headerLength(frame: Buffer): number {
  const len = frame[1]! & 0x7f;
  return len < 126 ? 2 : len === 126 ? 4 : 10;
}
