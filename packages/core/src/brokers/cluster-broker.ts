
import type { Broker, BrokerNode, Envelope, ReceiptEnvelope } from './broker.js';
import type { RecoveryLimits } from './history.js';
import type { BrokerBus, BrokerPresence, BrokerRoles } from './roles.js';

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
export abstract class ClusterBroker implements Broker, BrokerBus {
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

  /**
   * The bus is this broker (its channels); presence is `presenceJoin`,
   * `presenceLeave` and `users()`; the history is `history()` when the
   * broker has one.
   */
  roles(): BrokerRoles {
    const presence: BrokerPresence = {
      userJoined: (userId, user) => this.presenceJoin(userId, user),
      userUpdated: (userId, user) => this.presenceJoin(userId, user),
      userLeft: (userId) => this.presenceLeave(userId),
      users: () => this.users(),
      onlineUsers: () => this.onlineUsers(),
      isOnline: (userId) => this.isOnline(userId),
    };
    const history = (this as Broker).history;
    return {
      bus: this,
      presence,
      ...(typeof history === 'function' ? { history: (limits: RecoveryLimits) => history.call(this, limits) } : {}),
    };
  }

  publishToNode(nodeId: string, envelope: Envelope): void {
    this.send(this.nodeChannel(nodeId), envelope);
  }

  subscribeUser(userId: string): void {
    this.subscribe(this.userChannel(userId));
  }

  unsubscribeUser(userId: string): void {
    this.unsubscribe(this.userChannel(userId));
  }

  userJoined(userId: string, user: unknown): void {
    this.subscribeUser(userId);
    this.presenceJoin(userId, user);
  }

  userUpdated(userId: string, user: unknown): void {
    this.presenceJoin(userId, user);
  }

  userLeft(userId: string): void {
    this.unsubscribeUser(userId);
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

/** A message's `id` and `origin`, each absent or a string; an `origin` only with an `id`. */
const hasIds = (env: Record<string, unknown>): boolean =>
  env.id === undefined ? env.origin === undefined : typeof env.id === 'string' && (env.origin === undefined || typeof env.origin === 'string');

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
        isFilter(env.filter) &&
        hasIds(env)
      )
        return { origin: o, envelope: env as Envelope };
      return undefined;
    case 'push':
      if (typeof env.event === 'string' && typeof env.message === 'string' && isFilter(env.filter) && hasIds(env))
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

/** One socket's confirmations: user, device, socket, time, then at least one (id, event) pair. */
function isConfirmations(item: unknown): boolean {
  if (!Array.isArray(item) || item.length < 6 || item.length % 2 !== 0) return false;
  if (typeof item[0] !== 'string' || typeof item[1] !== 'string' || typeof item[2] !== 'string' || typeof item[3] !== 'number') return false;
  for (let i = 4; i < item.length; i++) if (typeof item[i] !== 'string') return false;
  return true;
}

function isReceipt(env: Record<string, unknown>): boolean {
  return typeof env.origin === 'string' && Array.isArray(env.items) && env.items.every(isConfirmations);
}
