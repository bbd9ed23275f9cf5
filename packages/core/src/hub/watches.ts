import { TIMED_OUT, withDeadline } from '../util/deadline.js';
import type { DeadlineQueue } from '../util/deadline-queue.js';
import type { Delivery } from './delivery.js';
import type { HubCounters } from './hub-counters.js';
import { type Observers, secondsSince } from './hub-observer.js';
import { HubError } from '../protocol/errors.js';
import {
  ACK,
  type Ack,
  EXCEPTION,
  parseRequestId,
  parseWatchBody,
  type RequestId,
  UNWATCH,
  WATCH,
} from '../protocol/protocol.js';
import type { AdmittedSession, SocketSession } from '../session/socket-session.js';
import type { HubUser, WatchContext } from '../config/options.js';
import type { HubSocket } from './hub-types.js';
import type { Tracing } from '../config/tracing.js';
import type { WatchRegistry } from '../routing/watch-registry.js';

/** The app's `canWatch`, with the app's view of the socket. */
export type CanWatch<User extends HubUser, S extends object> = (
  context: WatchContext<User, HubSocket<User, S>>,
) => boolean | Promise<boolean>;

/** What the watch rules need. */
export interface WatchesOptions<User extends HubUser, S extends object> {
  readonly registry: WatchRegistry<SocketSession<User, S>>;
  readonly delivery: Delivery;
  readonly canWatch: CanWatch<User, S> | undefined;
  /** `watchTimeoutMs`. */
  readonly timeoutMs: number;
  /** The hub's one timer, for `canWatch` calls in flight. */
  readonly deadlines: DeadlineQueue;
  /** `limits.maxWatchesPerSocket`. */
  readonly maxWatches: number;
  readonly report: (error: HubError) => void;
  readonly counters: HubCounters;
  readonly observers: Observers;
  readonly tracing: Tracing | undefined;
}

const isThenable = (value: unknown): value is PromiseLike<unknown> =>
  typeof (value as PromiseLike<unknown> | null)?.then === 'function';

/**
 * The watch/unwatch requests of clients: validation, the per-socket limit,
 * the app's `canWatch` (bounded by `watchTimeoutMs`), the registry, and the
 * answer — in v1 only a forbidden reply or an exception; in v2 an ack for
 * every request.
 */
export class Watches<User extends HubUser = HubUser, S extends object = object> {
  private readonly registry: WatchRegistry<SocketSession<User, S>>;
  private readonly delivery: Delivery;
  private readonly canWatch: CanWatch<User, S> | undefined;
  private readonly timeoutMs: number;
  private readonly deadlines: DeadlineQueue;
  private readonly maxWatches: number;
  private readonly report: (error: HubError) => void;
  private readonly counters: HubCounters;
  private readonly observers: Observers;
  private readonly tracing: Tracing | undefined;

  constructor(options: WatchesOptions<User, S>) {
    this.registry = options.registry;
    this.delivery = options.delivery;
    this.canWatch = options.canWatch;
    this.timeoutMs = options.timeoutMs;
    this.deadlines = options.deadlines;
    this.maxWatches = options.maxWatches;
    this.report = options.report;
    this.counters = options.counters;
    this.observers = options.observers;
    this.tracing = options.tracing;
  }

  /** A watch frame; the promise settles when an async `canWatch` has answered (later frames wait for it). */
  watch(session: AdmittedSession<User, S>, data: unknown, rawId: unknown): Promise<void> | undefined {
    const id = session.v2 ? parseRequestId(rawId) : undefined;
    if (id === false) {
      this.invalid(session, WATCH, undefined, 'watch "id" must be a non-negative integer or a string of at most 64 characters');
      return undefined;
    }
    const body = parseWatchBody(data);
    if (!body.ok) {
      this.invalid(session, WATCH, id, body.message);
      return undefined;
    }
    const { event, payload } = body;
    if (session.watching.get(event)?.has(payload)) {
      this.ack(session, { id, op: WATCH, status: 'allowed', event, payload });
      return undefined;
    }
    if (this.registry.countOf(session) >= this.maxWatches) {
      this.invalid(session, WATCH, id, `watch limit reached: a socket may hold at most ${this.maxWatches} watches`);
      return undefined;
    }
    const started = this.observers.active ? performance.now() : 0;
    const canWatch = this.canWatch;
    // Only a check the app wrote gets a span: without one every watch is allowed.
    const span = canWatch ? this.tracing?.watchCheck(session.id, session.userId, event) : undefined;
    const finish = (allowed: unknown, outcome?: 'timeout' | 'error', error?: HubError) => {
      if (started !== 0) {
        this.observers.call('watchChecked', secondsSince(started), outcome ?? (allowed === true ? 'allowed' : 'forbidden'));
      }
      span?.end(outcome ?? (allowed === true ? 'allowed' : 'forbidden'), error);
      if (allowed !== true) this.counters.watchRefusals++;
      if (session.phase !== 'ready') return;
      if (allowed === true) {
        this.registry.add(session, event, payload);
        this.ack(session, { id, op: WATCH, status: 'allowed', event, payload });
      } else if (session.v2) {
        this.ack(session, { id, op: WATCH, status: 'forbidden', event, payload });
      } else {
        this.delivery.reply(session, WATCH, { event, payload, forbidden: true });
      }
    };
    if (!canWatch) {
      finish(true);
      return undefined;
    }
    let verdict: boolean | Promise<boolean>;
    const check = () => canWatch({ user: session.user, userId: session.userId, event, payload, socket: session.socket });
    try {
      verdict = span ? span.run(check) : check();
    } catch (error) {
      const failure = HubError.from('canWatch', error);
      this.report(failure);
      finish(false, 'error', failure);
      return undefined;
    }
    if (!isThenable(verdict)) {
      finish(verdict);
      return undefined;
    }
    const timeoutMs = this.timeoutMs;
    return withDeadline(verdict, timeoutMs, this.deadlines).then(
      (allowed) => {
        if (allowed === TIMED_OUT) {
          const message = `wshub: canWatch did not answer within ${timeoutMs} ms (event "${event}"); the watch was refused`;
          const failure = new HubError('canWatch', message);
          this.report(failure);
          finish(false, 'timeout', failure);
        } else {
          finish(allowed);
        }
      },
      (error) => {
        const failure = HubError.from('canWatch', error);
        this.report(failure);
        finish(false, 'error', failure);
      },
    );
  }

  /** An unwatch frame: removes exactly that (event, payload). */
  unwatch(session: SocketSession<User, S>, data: unknown, rawId: unknown): void {
    const id = session.v2 ? parseRequestId(rawId) : undefined;
    if (id === false) {
      this.invalid(session, UNWATCH, undefined, 'unwatch "id" must be a non-negative integer or a string of at most 64 characters');
      return;
    }
    const body = parseWatchBody(data);
    if (!body.ok) {
      this.invalid(session, UNWATCH, id, body.message.replace(/^watch/, 'unwatch'));
      return;
    }
    this.registry.remove(session, body.event, body.payload);
    this.ack(session, { id, op: UNWATCH, status: 'removed', event: body.event, payload: body.payload });
  }

  /** Every watch of a session that ended. */
  removeAll(session: SocketSession<User, S>): void {
    this.registry.removeSocket(session);
  }

  /** v2 only: v1 clients get no confirmation. */
  private ack(session: SocketSession, ack: Ack): void {
    if (!session.v2) return;
    if (ack.id === undefined) delete ack.id;
    this.delivery.reply(session, ACK, ack);
  }

  private invalid(session: SocketSession, op: Ack['op'], id: RequestId | undefined, message: string): void {
    if (session.v2) this.ack(session, { id, op, status: 'invalid', message });
    else this.delivery.reply(session, EXCEPTION, { status: 'error', message });
  }
}
