import type { DeliveryFilter } from '../routing/delivery-filter.js';
import type { MessageHistory, RecordedMessage, RecoveryLimits } from './history.js';
import type { BrokerBus, BrokerRoles } from './roles.js';

/**
 * An effect that must reach other nodes. Messages travel already encoded
 * (`message` is the exact frame text), so a receiving node writes them
 * without serializing again; beside it, the message's `id` when it has one
 * (with receipts, every message; without, the sender's `options.id`) and,
 * for a receipt, `origin`: the node that owns it, where confirmations go.
 */
export type Envelope = (
  | ({ kind: 'send'; userId: string; event: string; filter: DeliveryFilter; message: string } & MessageIds)
  | ({ kind: 'push'; event: string; filter: DeliveryFilter; message: string } & MessageIds)
  | { kind: 'disconnect'; userId: string; deviceFingerprint?: string }
  | { kind: 'update'; userId: string; user: unknown }
  | ReceiptEnvelope
) & {
  /**
   * The W3C `traceparent` of the sender's `wshub.send` span, when tracing
   * is on, so the receiving node's `wshub.deliver` span joins its trace.
   * Read leniently: one that is not well formed is ignored, the envelope
   * still applied.
   */
  tp?: string;
};

/** A travelling message's id and, for a receipt, the node that owns it. */
export interface MessageIds {
  id?: string;
  origin?: string;
}

/**
 * What one socket confirmed in one event-loop turn: who (user, device,
 * socket), when (`Date.now()` on the node that holds the socket, as the
 * turn's first confirmation came), then each message's id and event, in
 * pairs.
 */
export type Confirmations = [userId: string, deviceFingerprint: string, socketId: string, at: number, ...idsAndEvents: string[]];

/**
 * Confirmations, from a node whose sockets confirmed to the node that owns
 * the receipts (`origin`, the sender's node): those of one event-loop turn
 * together, one entry per socket.
 */
export interface ReceiptEnvelope {
  kind: 'receipt';
  origin: string;
  items: Confirmations[];
}

/** What a hub offers the broker it is given. */
export interface BrokerNode {
  /** Unique per hub instance; lets a broker drop its own publishes. */
  readonly nodeId: string;
  /** The hub has receipts on: it needs {@link Broker.publishToNode} to reach it. */
  readonly receipts?: boolean;
  /** Applies an envelope that came from another node to this node's sockets. */
  deliver(envelope: Envelope): void;
  /** The users this node holds now, as plain (JSON) objects: for re-announcing presence after an outage. */
  localUsers(): Map<string, unknown>;
  /** Reports a broker failure through the hub's `'error'` event. */
  reportError(error: Error): void;
  /**
   * The user's first socket anywhere in the cluster connected (`online`), or
   * its last one anywhere closed (or its last node died). A broker calls this
   * once per change in the whole cluster, on one node; the hub emits it as
   * `'presence'`.
   */
  presence(change: PresenceChange): void;
  /**
   * A message of the broker's shared history (`Broker.history`), for this
   * node's sockets. Called for every recorded message, in offset order, this
   * node's own included.
   */
  deliverRecorded(message: RecordedMessage): void;
  /**
   * This node's sockets of `userId` (of every user when `undefined`) may
   * have missed recorded messages: with recovery on, the hub closes those
   * that can resume (protocol v2) with 1012, so their clients reconnect and
   * resume from the last offset they got. Plain sockets stay open.
   * With `until`, they get nothing more from now on and close once it
   * settles (the broker marks their history lost first, so that a resume
   * from their position fails on every node).
   */
  closeForResume(userId: string | undefined, until?: Promise<unknown>): void;
}

/** Payload of the hub's `'presence'` notification. */
export interface PresenceChange {
  userId: string;
  online: boolean;
}

/**
 * The seam between a hub and the other nodes of a cluster. The hub delivers
 * to its own sockets itself; a broker carries envelopes to the *other* nodes
 * and must never hand a node its own publish back.
 *
 * A broker is three roles (see {@link BrokerRoles}): a bus, presence and a
 * history. One that implements `roles()` is used through them; one that
 * does not is read as all three when `distributed`, as none when not. A
 * broker that is only a bus implements {@link BrokerBus} instead.
 *
 * Routing contract: `publishToUser` needs to reach only the nodes that hold
 * the user (a broker subscribes a per-user channel on `userJoined` and drops
 * it on `userLeft`); `publishToAll` reaches every node.
 */
export interface Broker {
  /**
   * True when other nodes may exist: without `roles()`, the broker then
   * serves every role (its envelopes, its presence, its `history`); false,
   * none (a single node).
   */
  readonly distributed: boolean;
  /**
   * The roles this broker serves, called once by the hub's constructor
   * before `attach`; a role left out is the hub's local one.
   */
  roles?(): BrokerRoles;
  /** Called once, by the hub's constructor. */
  attach(node: BrokerNode): void;
  publishToUser(userId: string, envelope: Envelope): void;
  publishToAll(envelope: Envelope): void;
  /**
   * Reaches the one node `nodeId` (receipts' confirmations go to the
   * sender's node this way). Without it, the hub publishes those with
   * `publishToAll` and every other node drops them.
   */
  publishToNode?(nodeId: string, envelope: Envelope): void;
  /** This node now holds a socket of `userId` (its first); `user` is plain JSON. */
  userJoined(userId: string, user: unknown): void;
  /** The user object changed (`updateUser`) while this node holds the user. */
  userUpdated(userId: string, user: unknown): void;
  /** This node's last socket of `userId` is gone. */
  userLeft(userId: string): void;
  /** Every online user of the cluster with its plain user object. */
  users(): Promise<Map<string, unknown>>;
  onlineUsers(): Promise<string[]>;
  isOnline(userId: string): Promise<boolean>;
  /** Counters merged into `hub.stats().broker`. */
  stats(): Record<string, number>;
  close(): Promise<void>;
  /**
   * A message history shared by every node, for message recovery with this
   * broker. Called once, by the hub's constructor, after `attach`, when the
   * hub's `recovery` option is on. A distributed broker without it cannot
   * serve recovery (the hub throws a TypeError saying so).
   */
  history?(limits: RecoveryLimits): MessageHistory;
  /**
   * Flow control, for a broker whose queue to the other nodes can fill
   * faster than it empties (`WorkerBroker`; `RedisBroker`, whose publishes
   * wait in ioredis for Redis's answer). The hub calls it before it
   * delivers a message it will publish (`sendMessage`, `push`):
   * `undefined` when the broker takes it now; a promise when its queue is
   * long, which the hub awaits after publishing, so the app's call resolves
   * once the queue is short again; or it throws (a `RangeError` naming the
   * limit) when the queue is full, and the hub rejects the call without
   * delivering anything. Without it, publishes never wait.
   */
  admit?(): Promise<void> | undefined;
}

/**
 * The default broker: a single node. Nothing is published; presence is the
 * hub's own registry, and its changes are this node's.
 */
export class LocalBroker implements Broker {
  readonly distributed = false;
  private node: BrokerNode | undefined;

  /** None beyond this node: the hub's local bus, presence and history. */
  roles(): BrokerRoles {
    return {};
  }

  attach(node: BrokerNode): void {
    this.node = node;
  }
  publishToUser(): void {}
  publishToAll(): void {}
  userJoined(userId: string): void {
    this.node?.presence({ userId, online: true });
  }
  userUpdated(): void {}
  userLeft(userId: string): void {
    this.node?.presence({ userId, online: false });
  }
  async users(): Promise<Map<string, unknown>> {
    return this.node?.localUsers() ?? new Map();
  }
  async onlineUsers(): Promise<string[]> {
    return [...(await this.users()).keys()];
  }
  async isOnline(userId: string): Promise<boolean> {
    return (await this.users()).has(userId);
  }
  stats(): Record<string, number> {
    return {};
  }
  async close(): Promise<void> {}
}
