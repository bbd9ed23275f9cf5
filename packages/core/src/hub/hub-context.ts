import { LocalBroker, type ReceiptEnvelope } from '../brokers/broker.js';
import { messageIds } from '../brokers/receipt-tag.js';
import { RecentIds } from '../brokers/recent-ids.js';
import { originRule } from '../config/origins.js';
import type { HubOptions, HubRequest, HubUser, ResolvedOptions } from '../config/options.js';
import { resolveOptions } from '../config/resolve-options.js';
import { createTracing, type Tracing } from '../config/tracing.js';
import { HubError } from '../protocol/errors.js';
import { CloseCode } from '../protocol/protocol.js';
import { UserRegistry } from '../routing/user-registry.js';
import { WatchRegistry } from '../routing/watch-registry.js';
import type { AdmittedSession, SessionHost, SocketSession } from '../session/socket-session.js';
import { DeadlineQueue } from '../util/deadline-queue.js';
import { Notifier } from '../util/notifier.js';
import { ClusterSync } from './cluster-sync.js';
import { Delivery } from './delivery.js';
import { dispatchFrame } from './frames/dispatch.js';
import { type HubCounters, newCounters } from './hub-counters.js';
import { Observers } from './hub-observer.js';
import type { HubEvents, HubSocket } from './hub-types.js';
import { Receipts } from './receipts.js';
import { ResumeBudget } from './resume-budget.js';
import { sessionEnded } from './session-end.js';
import { Watches } from './watches.js';

/** What changes while the hub runs, beside the sessions themselves. */
export interface HubState {
  /** Sessions whose `authenticate` is still pending. */
  pending: number;
  /** Set by the first `close()`: no connection is accepted from then on. */
  closing: Promise<void> | undefined;
}

/**
 * What the hub's parts share, built once by {@link createHubContext}: the
 * options resolved once, the counters, the parts they call, and where
 * errors go. A part that answers a frame or keeps a rule (expiry, the
 * socket cap) takes this one object rather than a list of arguments or
 * closures, and `User` and the transport's socket type `S` travel with it.
 */
export interface HubContext<User extends HubUser = HubUser, S extends object = object> {
  readonly config: ResolvedOptions;
  readonly authenticate: (request: HubRequest) => User | Promise<User>;
  /** The `allowedOrigins` rule; `undefined` when any origin may connect. */
  readonly allowOrigin: ((origin: string | undefined) => boolean) | undefined;
  readonly counters: HubCounters;
  readonly errorsBySource: Map<string, number>;
  readonly observers: Observers;
  /** Undefined without `@opentelemetry/api`: no span is even attempted. */
  readonly tracing: Tracing | undefined;
  readonly state: HubState;
  /** Every open session of this hub, authorized or not. */
  readonly sessions: Set<SocketSession<User, S>>;
  /** The admitted sessions, by user. */
  readonly rooms: UserRegistry<AdmittedSession<User, S>>;
  readonly delivery: Delivery;
  readonly watches: Watches<User, S>;
  readonly cluster: ClusterSync<User, S>;
  /** Resumes left per user on this node; only with a history. */
  readonly resumeBudget: ResumeBudget | undefined;
  /** Message ids sent lately, to drop repeats (`options.id`). */
  readonly recentIds: RecentIds;
  /** Makes the id of a message sent without `options.id`. */
  readonly messageId: () => string;
  /** Receipts; only with the `receipts` option. */
  readonly receipts: Receipts | undefined;
  /** The app's `refresh` hook, when it has one. */
  readonly refresh: HubOptions<User, HubSocket<User, S>>['refresh'];
  readonly notifier: Notifier<HubEvents<User, HubSocket<User, S>>>;
  /** What every new session is given: the limits, and where its frames and its end go. */
  readonly sessionHost: SessionHost<User, S>;
  /** Reports through `'error'` (and on the traced call it happened in, if any); never throws. */
  report(error: HubError): void;
  /** Reports through `'error'` only: for what happens outside the hub's calls (observers, handlers, the origin rule). */
  reportUntraced(error: HubError): void;
}

/**
 * Validates `options` (a TypeError naming the option when one is wrong) and
 * builds the hub's one context: registries, delivery, watches, cluster sync
 * over `options.broker` (a `LocalBroker` by default), the resume budget
 * when recovery is on, and the session host that hands frames to
 * `frames/dispatch.ts` and ends to `session-end.ts`.
 */
export function createHubContext<User extends HubUser, S extends object>(
  options: HubOptions<User, HubSocket<User, S>>,
): HubContext<User, S> {
  const config = resolveOptions(options);
  const counters = newCounters();
  const errorsBySource = new Map<string, number>();
  const notifier = new Notifier<HubEvents<User, HubSocket<User, S>>>((name, error) => {
    if (name !== 'error') reportUntraced(HubError.from(`'${String(name)}' handler`, error));
  });
  const reportUntraced = (error: HubError) => {
    counters.errors++;
    errorsBySource.set(error.source, (errorsBySource.get(error.source) ?? 0) + 1);
    notifier.emit('error', error);
  };
  const tracing = createTracing(options.tracing, () => counters.messagesOut);
  // An error reported while a call of this hub is traced is recorded on its span too.
  const report = (error: HubError) => {
    tracing?.recordError(error);
    reportUntraced(error);
  };
  const observers = new Observers((error) => reportUntraced(HubError.from('observer', error)));
  const rooms = new UserRegistry<AdmittedSession<User, S>>();
  const watchers = new WatchRegistry<SocketSession<User, S>>();
  const delivery = new Delivery({
    rooms,
    watchers,
    counters,
    rule: { maxBufferedBytes: config.limits.maxBufferedBytes, drainTimeoutMs: config.drainTimeoutMs },
    serialize: options.serialize,
    report,
  });
  // One timer for every session's clocks (expiry, handshake, paused reads, close) and every callback in flight
  // (`canWatch`, `refresh`, push callbacks), however many there are.
  const deadlines = new DeadlineQueue((error) => report(HubError.from('session timer', error)));
  const watches = new Watches<User, S>({
    registry: watchers,
    delivery,
    canWatch: options.canWatch,
    timeoutMs: config.watchTimeoutMs,
    deadlines,
    maxWatches: config.limits.maxWatchesPerSocket,
    report,
    counters,
    observers,
    tracing,
  });
  // The node id is the cluster's, made below; receipts only read it once messages flow.
  const receipts: Receipts | undefined =
    config.receipts &&
    new Receipts(config.receipts, {
      get nodeId(): string {
        return cluster.nodeId;
      },
      counters,
      get listensDelivered(): boolean {
        return notifier.has('delivered');
      },
      delivered: (event) => notifier.emit('delivered', event),
      undelivered: (event) => notifier.emit('undelivered', event),
      send: (envelope) => cluster.sendReceipt(envelope),
    });
  delivery.receipts = receipts;
  const cluster: ClusterSync<User, S> = new ClusterSync<User, S>({
    broker: options.broker ?? new LocalBroker(),
    delivery,
    rooms,
    host: {
      disconnectLocal: (userId, deviceFingerprint) => closeUserSessions(rooms, userId, deviceFingerprint),
      presence: (change) => notifier.emit('presence', change),
      report,
      ...(receipts && { receipt: (envelope: ReceiptEnvelope) => receipts.confirmed(envelope) }),
    },
    recovery: config.recovery,
    tracing,
  });
  const state: HubState = { pending: 0, closing: undefined };
  const ctx: HubContext<User, S> = {
    config,
    authenticate: options.authenticate,
    allowOrigin: originRule(options.allowedOrigins),
    counters,
    errorsBySource,
    observers,
    tracing,
    state,
    sessions: new Set(),
    rooms,
    delivery,
    watches,
    cluster,
    resumeBudget: cluster.history ? new ResumeBudget(config.limits.resumesPerUser) : undefined,
    recentIds: new RecentIds(),
    messageId: messageIds(),
    receipts,
    refresh: options.refresh,
    notifier,
    sessionHost: {
      limits: config.limits,
      closeTimeoutMs: config.closeTimeoutMs,
      pauseTimeoutMs: config.pauseTimeoutMs,
      deadlines,
      countIn: () => {
        counters.messagesIn++;
      },
      handleFrame: (session, text) => dispatchFrame(ctx, session, text),
      leftPending: () => {
        state.pending--;
      },
      ended: (session, code, reason) => sessionEnded(ctx, session, code, reason),
    },
    report,
    reportUntraced,
  };
  return ctx;
}

/** Closes a user's sockets on this node with 4000: one device's, or all of them. */
function closeUserSessions<User extends HubUser, S extends object>(
  rooms: UserRegistry<AdmittedSession<User, S>>,
  userId: string,
  deviceFingerprint: string | undefined,
): void {
  const room = rooms.get(userId);
  if (!room) return;
  for (const session of [...room]) {
    if (deviceFingerprint === undefined || session.deviceFingerprint === deviceFingerprint) {
      session.close(CloseCode.DisconnectedByServer);
    }
  }
}
