import type { Broker, BrokerNode, Envelope } from './broker.js';
import type { MessageHistory, RecoveryLimits } from './history.js';

/**
 * The bus (Phoenix's PubSub): carries envelopes to the *other* nodes, never
 * back to the one that published. The smallest broker a third party can
 * write is a bus alone: presence and history then stay local (see
 * {@link BrokerRoles}).
 *
 * Routing contract: `publishToUser` needs to reach only the nodes that hold
 * the user; a bus that routes per user learns them from `subscribeUser` /
 * `unsubscribeUser`, else it sends every envelope to every node.
 */
export interface BrokerBus {
  /** Called once, by the hub's constructor. */
  attach(node: BrokerNode): void;
  publishToUser(userId: string, envelope: Envelope): void;
  publishToAll(envelope: Envelope): void;
  /**
   * Reaches the one node `nodeId` (receipts' confirmations go to the
   * sender's node). Without it, such envelopes go to every node and the
   * others drop them.
   */
  publishToNode?(nodeId: string, envelope: Envelope): void;
  /** This node now holds a socket of `userId` (its first). */
  subscribeUser?(userId: string): void;
  /** This node's last socket of `userId` is gone. */
  unsubscribeUser?(userId: string): void;
  /**
   * Called before this node admits a socket of a user it holds no socket
   * of: a promise delays that admission (`'ready'`) until it settles (it
   * must settle, and never reject). A bus that delivers without publishing
   * when this node holds a user alone (`WorkerBroker`) uses it so the
   * user's other holders learn of this node first. The hub then calls
   * `subscribeUser` when it admitted the socket, or `unsubscribeUser` when
   * no socket of the user was admitted after all.
   */
  claimUser?(userId: string): Promise<void> | undefined;
  /** Flow control, as {@link Broker.admit}. */
  admit?(): Promise<void> | undefined;
  /** Counters merged into `hub.stats().broker`. */
  stats?(): Record<string, number>;
  close?(): Promise<void>;
}

/**
 * Presence (Phoenix's Presence): who is online in the whole cluster. A
 * presence tells the hub of each cluster-wide change once, on one node,
 * through `BrokerNode.presence`. Users are plain JSON objects.
 */
export interface BrokerPresence {
  /** This node now holds a socket of `userId` (its first). */
  userJoined(userId: string, user: unknown): void;
  /** The user object changed while this node holds the user. */
  userUpdated(userId: string, user: unknown): void;
  /** This node's last socket of `userId` is gone. */
  userLeft(userId: string): void;
  /** Every online user of the cluster with its plain user object. */
  users(): Promise<Map<string, unknown>>;
  onlineUsers(): Promise<string[]>;
  isOnline(userId: string): Promise<boolean>;
}

/**
 * The roles a broker serves. Each role it leaves out has a local
 * implementation in the hub: no bus, a single node (nothing is published);
 * no presence, this node's users (`onlineUsers()`, `isOnline()`, push
 * callbacks and `'presence'` see this node only); no history, the hub's
 * `MemoryHistory` — which only a single node can use: a bus that reaches
 * other nodes with no shared history makes `recovery` a TypeError.
 */
export interface BrokerRoles {
  bus?: BrokerBus;
  presence?: BrokerPresence;
  /** A message history every node shares; called once, when the hub's `recovery` is on. */
  history?: (limits: RecoveryLimits) => MessageHistory;
}

/**
 * The roles of what the hub's `broker` option holds: a broker's own
 * `roles()`; else, for a `Broker` written before roles, every role from
 * its methods when it is `distributed`, none when it is not; else (a bus
 * alone) the bus.
 */
export function brokerRoles(broker: Broker | BrokerBus): BrokerRoles {
  if ('roles' in broker && typeof broker.roles === 'function') return broker.roles();
  if (!('distributed' in broker)) return { bus: broker };
  if (!broker.distributed) return {};
  const history = broker.history;
  return {
    bus: broker,
    // A `Broker`'s userJoined/userLeft subscribe as well: its bus needs no subscribeUser.
    presence: broker,
    ...(typeof history === 'function' ? { history: (limits: RecoveryLimits) => history.call(broker, limits) } : {}),
  };
}
