import type { ClusterSync } from './cluster-sync.js';
import type { Delivery } from './delivery.js';
import type { HubError } from './errors.js';
import type { HubCounters } from './hub-counters.js';
import type { HubEvents, HubSocket } from './hub-types.js';
import type { Notifier } from './notifier.js';
import type { HubOptions, HubUser, ResolvedOptions } from './options.js';
import type { Receipts } from './receipts/receipts.js';
import type { ResumeBudget } from './resume-budget.js';
import type { SocketSession } from './socket-session.js';
import type { UserRegistry } from './user-registry.js';
import type { Watches } from './watches.js';

/**
 * What the hub's parts share, built once by the hub: the options resolved
 * once, the counters, the parts they call, and where errors go. A part that
 * answers a frame or keeps a rule (expiry, the socket cap) takes this one
 * object rather than a list of arguments or closures, and `User` travels
 * with it.
 */
export interface HubContext<User extends HubUser = HubUser, S extends object = object> {
  readonly config: ResolvedOptions;
  readonly counters: HubCounters;
  /** Every open session of this hub, authorized or not. */
  readonly sessions: Set<SocketSession<User, S>>;
  readonly rooms: UserRegistry<SocketSession>;
  readonly delivery: Delivery;
  readonly watches: Watches;
  readonly cluster: ClusterSync<User>;
  /** Resumes left per user on this node; only with a history. */
  readonly resumeBudget: ResumeBudget | undefined;
  /** Receipts; only with the `receipts` option. */
  readonly receipts: Receipts | undefined;
  /** The app's `refresh` hook, when it has one. */
  readonly refresh: HubOptions<User, HubSocket<User, S>>['refresh'];
  readonly notifier: Notifier<HubEvents<User, HubSocket<User, S>>>;
  /** Reports through `'error'`; never throws. */
  report(error: HubError): void;
}

