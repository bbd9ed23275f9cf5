import type { Duplex } from 'node:stream';
import type { Redis } from 'ioredis';

/**
 * Most commands held for one write. A burst larger than this (an app's
 * loop of sends in one turn) goes out in writes of this many, so what waits
 * in memory before the socket takes it stays bounded.
 */
export const MAX_COMMANDS_PER_WRITE = 256;

const kTurn = Symbol('wshub.turnWrites');

/** Per connection socket: the turn of its last command, and the commands held (corked) since its last write. */
interface TurnState {
  turn: number;
  held: number;
}

type Stream = Duplex & { [kTurn]?: TurnState };

let turn = 0;
let flushQueued = false;
const corked: Stream[] = [];

/**
 * Called before a command is written to `redis`: the commands a turn writes
 * to one connection leave in two socket writes (the first, then the rest
 * together) instead of one each.
 *
 * Why: a cross-node publish costs a system call of its own, and on a busy
 * hub that call is a large part of a targeted send's CPU. How:
 * - The first command of a turn goes out at once: a send now and then keeps
 *   its latency.
 * - A second one in the same turn corks the socket, and the following ones
 *   queue behind it; the socket is uncorked on `process.nextTick`, and they
 *   leave in one `writev` (or one per {@link MAX_COMMANDS_PER_WRITE}).
 *   Latency added to them: at most the rest of the current turn, never
 *   another event-loop turn.
 *
 * Core's frame writer does the same for sockets, and also holds the first
 * write of a socket that had several in its last busy turn: a socket gets a
 * few messages a turn, a Redis connection all of them, so here one write
 * more a turn is nothing, and the first command never waits.
 *
 * Nothing changes for ioredis: a command is queued and its reply awaited as
 * before; its bytes only leave a moment later, in order. A connection that
 * is not ready (its commands wait in ioredis's offline queue) is left alone.
 * A `QUIT` or `end()` sends what is held first, as Node does.
 */
export function holdForTurn(redis: Redis): void {
  if (redis.status !== 'ready') return;
  const stream = (redis as unknown as { stream?: Stream }).stream;
  if (!stream?.writable) return;
  if (!flushQueued) {
    flushQueued = true;
    process.nextTick(endTurn);
  }
  const state = stream[kTurn];
  if (state === undefined || state.turn !== turn) {
    stream[kTurn] = { turn, held: 0 };
    return;
  }
  if (state.held === 0) {
    stream.cork();
    corked.push(stream);
    state.held = 1;
  } else if (state.held >= MAX_COMMANDS_PER_WRITE) {
    // Sends what is held, and holds again from this command on.
    stream.uncork();
    stream.cork();
    state.held = 1;
  } else state.held++;
}

/** Ends the turn: every connection corked in it writes what it holds. */
function endTurn(): void {
  flushQueued = false;
  turn++;
  const list = corked.splice(0);
  for (const stream of list) {
    (stream[kTurn] as TurnState).held = 0;
    try {
      stream.uncork();
    } catch {
      // A socket that fails here has failed for good; ioredis sees its 'error' and 'close'.
    }
  }
}
