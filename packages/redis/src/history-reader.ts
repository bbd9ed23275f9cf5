import type { HistoryEntry, Position } from '@wshub/core';
import { toEntry } from './history-codec.js';
import { RedisUnavailableError } from './redis-unavailable-error.js';
import type { HistoryCore } from './redis-history.js';

/**
 * What a client of `userId` missed since `from`: its stream and the
 * broadcasts' after that offset, in offset order; `undefined` when the
 * range cannot be served in full (another epoch, a mark of lost messages,
 * trimmed or expired entries). Throws when Redis cannot answer.
 */
export async function readHistory(core: HistoryCore, userId: string, from: Position): Promise<HistoryEntry[] | undefined> {
  if (core.unmarked) return undefined; // this node could not record something it delivered
  const { broker, commands } = core.parts;
  // What is recorded after the read must reach this node: the read waits for its subscriptions.
  if (!(await core.waits.until([broker.userChannel(userId), broker.broadcastChannel], commands.timeoutMs))) {
    if (core.closed) return undefined;
    throw new RedisUnavailableError(`wshub: the channels of user "${userId}" were not subscribed in time for a resume`);
  }
  const unavailable = commands.unavailable();
  if (unavailable) throw unavailable;
  const { seq, epoch, lost, clock, all } = core.keys;
  const reply = await commands.timed(
    core.scripts.wshubHistoryRead(seq, epoch, lost, clock, core.userStream(userId), all, from.epoch, String(from.offset), String(core.limits.ttlMs)),
    'a history read',
  );
  if (reply[0] !== 1) return undefined;
  const out: HistoryEntry[] = [];
  for (const [i, forUser] of [
    [2, userId],
    [3, undefined],
  ] as const) {
    for (const [id, fields] of (reply[i] as Array<[string, string[]]>) ?? []) {
      const entry = toEntry(id, fields, forUser);
      if (!entry) return undefined;
      out.push(entry);
    }
  }
  return out.sort((a, b) => a.offset - b.offset);
}
