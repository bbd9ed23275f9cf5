import { ClusterBroker } from './cluster-broker.js';

type Listener = (channel: string, data: string) => void;

/**
 * A publish/subscribe bus inside one process, shared by several hubs. It
 * proves the broker seam (and backs multi-hub tests) without a network:
 * messages are delivered on a later turn of the event loop, in order, as a
 * real transport would.
 */
export class InMemoryBus {
  private readonly channels = new Map<string, Set<Listener>>();
  /** userId → (nodeId → plain user). */
  readonly presence = new Map<string, Map<string, unknown>>();
  /** Messages published, for tests. */
  published = 0;

  publish(channel: string, data: string): void {
    this.published++;
    const listeners = this.channels.get(channel);
    if (!listeners) return;
    for (const listener of [...listeners]) setImmediate(listener, channel, data);
  }

  subscribe(channel: string, listener: Listener): void {
    let set = this.channels.get(channel);
    if (!set) {
      set = new Set();
      this.channels.set(channel, set);
    }
    set.add(listener);
  }

  unsubscribe(channel: string, listener: Listener): void {
    const set = this.channels.get(channel);
    if (!set?.delete(listener)) return;
    if (set.size === 0) this.channels.delete(channel);
  }

  /** Number of listeners on a channel (for tests of per-user routing). */
  subscribers(channel: string): number {
    return this.channels.get(channel)?.size ?? 0;
  }
}

/** A {@link ClusterBroker} over an {@link InMemoryBus}: several hubs in one process act as one. */
export class InMemoryBroker extends ClusterBroker {
  private readonly listener: Listener = (channel, data) => this.onMessage(channel, data);
  private readonly subscribed = new Set<string>();

  constructor(
    readonly bus: InMemoryBus,
    options: { prefix?: string } = {},
  ) {
    super(options.prefix ?? 'wshub');
  }

  protected publish(channel: string, data: string): void {
    this.bus.publish(channel, data);
  }

  protected subscribe(channel: string): void {
    this.subscribed.add(channel);
    this.bus.subscribe(channel, this.listener);
  }

  protected unsubscribe(channel: string): void {
    this.subscribed.delete(channel);
    this.bus.unsubscribe(channel, this.listener);
  }

  private get nodeId(): string {
    return this.node?.nodeId ?? '';
  }

  protected presenceJoin(userId: string, user: unknown): void {
    let nodes = this.bus.presence.get(userId);
    if (!nodes) {
      nodes = new Map();
      this.bus.presence.set(userId, nodes);
    }
    const wasOffline = nodes.size === 0;
    nodes.set(this.nodeId, user);
    // The bus is the cluster: the node that makes the user online tells its hub, once.
    if (wasOffline) this.node?.presence({ userId, online: true });
  }

  protected presenceLeave(userId: string): void {
    const nodes = this.bus.presence.get(userId);
    if (!nodes?.delete(this.nodeId)) return;
    if (nodes.size > 0) return;
    this.bus.presence.delete(userId);
    this.node?.presence({ userId, online: false });
  }

  async users(): Promise<Map<string, unknown>> {
    const out = new Map<string, unknown>();
    for (const [userId, nodes] of this.bus.presence) {
      const first = nodes.values().next();
      if (!first.done) out.set(userId, first.value);
    }
    return out;
  }

  async close(): Promise<void> {
    for (const channel of [...this.subscribed]) this.unsubscribe(channel);
    for (const userId of [...this.bus.presence.keys()]) this.presenceLeave(userId);
  }
}
