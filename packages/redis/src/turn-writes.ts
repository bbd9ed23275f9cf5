import type { Duplex } from 'node:stream';
import type { Redis } from 'ioredis';

/**
 * Most commands held for one write. A burst larger than this (an app's
 * loop of sends in one turn) goes out in writes of this many, so what waits
 * in memory before the socket takes it stays bounded.
 */
export const MAX_COMMANDS_PER_WRITE = 256;

const kHeld = Symbol('wshub.turnWrites');
/** The connection's socket, with the number of commands it holds this turn (0 or absent: not corked by us). */
type Stream = Duplex & { [kHeld]?: number };

const corked: Stream[] = [];
let flushQueued = false;

/**
 * Called before a command is written to `redis`: the commands a turn writes
 * to one connection leave in one socket write instead of one each.
 *
 * Why: a cross-node publish costs a system call of its own, and on a busy
 * hub that call is a large part of a targeted send's CPU. The first
 * command of a turn corks the connection's socket; the socket is uncorked
 * on `process.nextTick`, and every command of the turn goes in one
 * `writev` (or one per {@link MAX_COMMANDS_PER_WRITE}). Latency added: at
 * most the rest of the current turn, never another event-loop turn.
 *
 * Nothing changes for ioredis: a command is queued and its reply awaited as
 * before, its bytes only leave a moment later and in order. A connection
 * that is not ready (its commands wait in ioredis's offline queue) is left
 * alone. A `QUIT` or `end()` uncorks what is held first, as Node does.
 */
export function holdForTurn(redis: Redis): void {
  if (redis.status !== 'ready') return;
  const stream = (redis as unknown as { stream?: Stream }).stream;
  if (!stream?.writable) return;
  const held = stream[kHeld] ?? 0;
  if (held === 0) {
    stream.cork();
    stream[kHeld] = 1;
    corked.push(stream);
    if (!flushQueued) {
      flushQueued = true;
      process.nextTick(endTurn);
    }
    return;
  }
  if (held >= MAX_COMMANDS_PER_WRITE) {
    // Sends what is held, and holds again from this command on.
    stream.uncork();
    stream.cork();
    stream[kHeld] = 1;
    return;
  }
  stream[kHeld] = held + 1;
}

/** Ends the turn: every connection corked in it writes what it holds. */
function endTurn(): void {
  flushQueued = false;
  const list = corked.splice(0);
  for (const stream of list) {
    stream[kHeld] = 0;
    try {
      stream.uncork();
    } catch {
      // A socket that fails here has failed for good; ioredis sees its 'error' and 'close'.
    }
  }
}
