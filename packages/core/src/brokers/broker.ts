import type { DeliveryFilter } from '../routing/delivery-filter.js';
import type { MessageHistory, RecordedMessage, RecoveryLimits } from './history.js';

/**
 * An effect that must reach other nodes. Messages travel already encoded
 * (`message` is the exact frame text), so a receiving node writes them
 * without serializing again.
 */
export type Envelope = (
  | { kind: 'send'; userId: string; event: string; filter: DeliveryFilter; message: string }
  | { kind: 'push'; event: string; filter: DeliveryFilter; message: string }
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

/**
 * One confirmation: the message's id and event, who confirmed it (user,
 * device, socket) and when (`Date.now()` on the node that holds the socket).
 */
export type Confirmation = [id: string, event: string, userId: string, deviceFingerprint: string, socketId: string, at: number];

/**
 * Confirmations, from a node whose sockets confirmed to the node that owns
 * the receipts (`origin`, the sender's node): those of one event-loop turn
 * together, whatever sockets they came from.
 */
export interface ReceiptEnvelope {
  kind: 'receipt';
  origin: string;
  items: Confirmation[];
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
   */
  closeForResume(userId: string | undefined): void;
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
 * Routing contract: `publishToUser` needs to reach only the nodes that hold
 * the user (a broker subscribes a per-user channel on `userJoined` and drops
 * it on `userLeft`); `publishToAll` reaches every node.
 */
export interface Broker {
  /**
   * True when other nodes may exist. The hub then publishes envelopes, and
   * runs push callbacks over `users()` (cluster-wide, plain JSON users)
   * instead of its own registry.
   */
  readonly distributed: boolean;
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
   * faster than it empties (`WorkerBroker`). The hub calls it before it
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

/** Malformed messages are reported at most once per this interval (all are counted). */
export const IGNORED_REPORT_INTERVAL_MS = 10_000;

/** Largest envelope a cluster broker accepts from the wire, in bytes (characters for strings). */
export const MAX_ENVELOPE_BYTES = 8 * 1024 * 1024;

/**
 * Counters every cluster broker keeps; `received` counts envelopes from other
 * nodes that reached this node, which is how tests prove per-user routing.
 */
export interface ClusterBrokerStats {
  published: number;
  received: number;
  ignored: number;
  [key: string]: number;
}

/**
 * A broker over a publish/subscribe transport, as socket.io's cluster
 * adapter is: this class owns the channel layout, the envelope encoding, the
 * self-echo rule and the validation of what arrives; a transport implements
 * only `publish`, `subscribe` and `unsubscribe` (plus presence).
 *
 * Channels: `<prefix>:all` for broadcasts, `<prefix>:user:<userId>` per user,
 * `<prefix>:node:<nodeId>` per node (receipts' confirmations).
 */
export abstract class ClusterBroker implements Broker {
  readonly distributed = true;
  protected node: BrokerNode | undefined;
  protected readonly counters: ClusterBrokerStats = { published: 0, received: 0, ignored: 0 };

  constructor(readonly prefix: string) {
    if (typeof prefix !== 'string' || prefix.length === 0 || prefix.includes(' ')) {
      throw new TypeError(`wshub: broker "prefix" must be a non-empty string without spaces, got ${JSON.stringify(prefix)}`);
    }
  }

  /** Sends `data` on `channel` to every subscriber (including, possibly, this node). */
  protected abstract publish(channel: string, data: string): void;
  protected abstract subscribe(channel: string): void;
  protected abstract unsubscribe(channel: string): void;
  /** Presence: this node holds `userId` (plain `user`) / no longer does. */
  protected abstract presenceJoin(userId: string, user: unknown): void;
  protected abstract presenceLeave(userId: string): void;
  abstract users(): Promise<Map<string, unknown>>;
  abstract close(): Promise<void>;

  get broadcastChannel(): string {
    return `${this.prefix}:all`;
  }

  userChannel(userId: string): string {
    return `${this.prefix}:user:${userId}`;
  }

  /** The channel only node `nodeId` subscribes. */
  nodeChannel(nodeId: string): string {
    return `${this.prefix}:node:${nodeId}`;
  }

  attach(node: BrokerNode): void {
    if (this.node) throw new Error('wshub: a broker can serve one hub only; create one broker per WsHub');
    this.node = node;
    this.subscribe(this.broadcastChannel);
    if (node.receipts) this.subscribe(this.nodeChannel(node.nodeId));
  }

  publishToUser(userId: string, envelope: Envelope): void {
    this.send(this.userChannel(userId), envelope);
  }

  publishToAll(envelope: Envelope): void {
    this.send(this.broadcastChannel, envelope);
  }

  publishToNode(nodeId: string, envelope: Envelope): void {
    this.send(this.nodeChannel(nodeId), envelope);
  }

  userJoined(userId: string, user: unknown): void {
    this.subscribe(this.userChannel(userId));
    this.presenceJoin(userId, user);
  }

  userUpdated(userId: string, user: unknown): void {
    this.presenceJoin(userId, user);
  }

  userLeft(userId: string): void {
    this.unsubscribe(this.userChannel(userId));
    this.presenceLeave(userId);
  }

  async onlineUsers(): Promise<string[]> {
    return [...(await this.users()).keys()];
  }

  async isOnline(userId: string): Promise<boolean> {
    return (await this.users()).has(userId);
  }

  stats(): Record<string, number> {
    return { ...this.counters };
  }

  private lastIgnoredReport = 0;
  private ignoredSinceReport = 0;

  /**
   * Reports malformed messages without turning a flood of garbage into a
   * flood of `'error'`s: the first at once, then at most one report (with
   * the count) every {@link IGNORED_REPORT_INTERVAL_MS}. `stats().ignored` counts all.
   */
  private reportIgnored(node: BrokerNode, channel: string): void {
    this.ignoredSinceReport++;
    const now = Date.now();
    if (this.lastIgnoredReport !== 0 && now - this.lastIgnoredReport < IGNORED_REPORT_INTERVAL_MS) return;
    const count = this.ignoredSinceReport;
    this.lastIgnoredReport = now;
    this.ignoredSinceReport = 0;
    node.reportError(
      new Error(
        count === 1
          ? `wshub: ignored a malformed message on channel "${channel}"`
          : `wshub: ignored ${count} malformed messages (latest on channel "${channel}")`,
      ),
    );
  }

  private send(channel: string, envelope: Envelope): void {
    if (!this.node) throw new Error('wshub: broker used before a hub attached it');
    this.counters.published++;
    this.publish(channel, JSON.stringify({ o: this.node.nodeId, e: envelope }));
  }

  /**
   * A transport calls this for every message on a subscribed channel. Our
   * own publishes are dropped (the hub delivered locally already); anything
   * that is not a well-formed envelope is counted and ignored, never thrown.
   */
  protected onMessage(channel: string, data: string | Buffer): void {
    const node = this.node;
    if (!node) return;
    // Size first: an oversized buffer is never decoded.
    const envelope =
      data.length > MAX_ENVELOPE_BYTES
        ? undefined
        : decodeEnvelope(typeof data === 'string' ? data : data.toString('utf8'));
    if (!envelope) {
      this.counters.ignored++;
      this.reportIgnored(node, channel);
      return;
    }
    if (envelope.origin === node.nodeId) return;
    this.counters.received++;
    try {
      node.deliver(envelope.envelope);
    } catch (error) {
      node.reportError(error instanceof Error ? error : new Error(String(error)));
    }
  }
}

const isFilter = (f: unknown): boolean => f === null || f === true || typeof f === 'string';

/** Parses and checks one wire envelope; `undefined` for anything malformed. */
export function decodeEnvelope(text: string): { origin: string; envelope: Envelope } | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { o, e } = value as { o?: unknown; e?: unknown };
  if (typeof o !== 'string' || typeof e !== 'object' || e === null) return undefined;
  const env = e as Record<string, unknown>;
  switch (env.kind) {
    case 'send':
      if (
        typeof env.userId === 'string' &&
        typeof env.event === 'string' &&
        typeof env.message === 'string' &&
        isFilter(env.filter)
      )
        return { origin: o, envelope: env as Envelope };
      return undefined;
    case 'push':
      if (typeof env.event === 'string' && typeof env.message === 'string' && isFilter(env.filter))
        return { origin: o, envelope: env as Envelope };
      return undefined;
    case 'disconnect':
      if (
        typeof env.userId === 'string' &&
        (env.deviceFingerprint === undefined || typeof env.deviceFingerprint === 'string')
      )
        return { origin: o, envelope: env as Envelope };
      return undefined;
    case 'update':
      if (typeof env.userId === 'string' && typeof env.user === 'object' && env.user !== null)
        return { origin: o, envelope: env as Envelope };
      return undefined;
    case 'receipt':
      return isReceipt(env) ? { origin: o, envelope: env as unknown as ReceiptEnvelope } : undefined;
    default:
      return undefined;
  }
}

const isConfirmation = (item: unknown): boolean =>
  Array.isArray(item) &&
  item.length === 6 &&
  typeof item[0] === 'string' &&
  typeof item[1] === 'string' &&
  typeof item[2] === 'string' &&
  typeof item[3] === 'string' &&
  typeof item[4] === 'string' &&
  typeof item[5] === 'number';

function isReceipt(env: Record<string, unknown>): boolean {
  return typeof env.origin === 'string' && Array.isArray(env.items) && env.items.every(isConfirmation);
}
