import type { PreparedMessage } from '../../session/connection.js';
import { matchesFilter } from '../../routing/delivery-filter.js';
import { HubError } from '../../protocol/errors.js';
import type { HistoryEntry } from '../../brokers/history.js';
import type { HubContext } from '../hub-context.js';
import type { HubUser } from '../../config/options.js';
import { parsePosition } from '../../protocol/protocol.js';
import type { AdmittedSession } from '../../session/socket-session.js';
import { answerer, isPromise } from './answer.js';

/**
 * `wshub:resume` (v2): a client asks for what it missed since its position:
 * the messages of its user (and broadcasts) after that offset that pass its
 * watches now, in order, each with its offset; then the answer, with the
 * position to keep. A position the history cannot serve in full gets
 * `failed`, never part of it. One resume per connection, and a budget per
 * user on this node (`limits.resumesPerUser`, see {@link ResumeBudget}).
 */
export function resumeFrame<User extends HubUser, S extends object>(
  ctx: HubContext<User, S>,
  session: AdmittedSession<User, S>,
  data: unknown,
  rawId: unknown,
): Promise<void> | undefined {
  const { id, answer, span } = answerer(ctx, session, 'resume', rawId);
  if (id === false) {
    answer({ status: 'invalid', message: 'resume "id" must be a non-negative integer or a string of at most 64 characters' });
    return undefined;
  }
  const history = ctx.cluster.history;
  if (!history) {
    answer({ status: 'unavailable' });
    return undefined;
  }
  // One replay per connection: what a reconnect needs, and no way to make the hub replay its history in a loop.
  if (session.resumed) {
    answer({ status: 'invalid', message: 'resume was already answered on this connection' });
    return undefined;
  }
  const position = parsePosition(data);
  if (!position) {
    // Answered without using up the connection's one resume: the client may send a valid one.
    answer({ status: 'invalid', message: 'resume "data" must be { "epoch": string, "offset": non-negative integer }' });
    return undefined;
  }
  session.takeResume();
  const { counters, delivery, config } = ctx;
  // Taken before the read: a shared history may deliver newer messages meanwhile, which the client sorts after.
  const current = history.position();
  // Reconnecting does not buy another replay: the budget is the user's, on this node.
  if (!ctx.resumeBudget?.take(session.userId)) {
    counters.resumeFailed++;
    const max = config.limits.resumesPerUser;
    answer({ status: 'failed', missed: 0, ...current, message: `this user's resumes passed limits.resumesPerUser (${max} a minute)` });
    return undefined;
  }
  const replay = (entries: HistoryEntry[] | undefined) => {
    if (session.phase !== 'ready') {
      span?.end({ 'wshub.resume.status': 'closed' });
      return;
    }
    if (!entries) {
      counters.resumeFailed++;
      answer({ status: 'failed', missed: 0, ...current });
      return;
    }
    let last = current.offset;
    let bytes = 0;
    const messages: PreparedMessage[] = [];
    for (const entry of entries) {
      last = Math.max(last, entry.offset);
      if (!matchesFilter(session, entry.event, entry.filter)) continue;
      const message = delivery.forClients(delivery.wrap(entry.event, entry.text), entry.filter, entry.offset);
      bytes += message.v2!.byteLength;
      messages.push(message);
    }
    // A replay is written in one turn: past the slow-consumer limit, a client that
    // does not read could make the hub hold its whole history per socket.
    const max = config.limits.maxBufferedBytes;
    if (bytes > max) {
      counters.resumeFailed++;
      answer({ status: 'failed', missed: 0, ...current, message: `the replay would be ${bytes} bytes, more than limits.maxBufferedBytes (${max})` });
      return;
    }
    for (const message of messages) delivery.write(session, message);
    counters.resumed++;
    answer({ status: 'recovered', missed: messages.length, epoch: current.epoch, offset: last });
  };
  let entries: ReturnType<typeof history.read>;
  try {
    entries = history.read(session.userId, position);
  } catch (error) {
    span?.fail(error);
    ctx.report(HubError.from('broker', error, 'a resume was answered failed'));
    replay(undefined);
    return undefined;
  }
  if (!isPromise(entries)) {
    replay(entries);
    return undefined;
  }
  return entries.then(replay, (error) => {
    span?.fail(error);
    ctx.report(HubError.from('broker', error, 'a resume was answered failed'));
    replay(undefined);
  });
}
