import type { Cluster, Redis } from 'ioredis';
import { keySlot } from './key-slot.js';
import type { PublishLanes } from './outage-publisher.js';
import { holdForTurn } from './turn-writes.js';

/** The parts of ioredis's `Cluster` internals this uses (the same the cluster client routes commands with). */
interface ConnectionPool {
  getInstanceByKey(key: string): Redis | undefined;
  on(event: '-node', listener: (redis: Redis, key: string) => void): void;
  off(event: '-node', listener: (redis: Redis, key: string) => void): void;
}

/**
 * Where a publish on Redis Cluster goes, and whether it may go now. Each
 * publish is written straight to the connection of the master that serves
 * its channel's slot, never through the cluster client: that client retries
 * a command whose connection closed, for up to 16 redirections over a
 * failover, and a retried publish then arrives after newer ones. Written
 * once, a publish that fails is counted and not sent again.
 *
 * A slot is open when its master's connection is ready and the master has
 * settled: a master that is new in the slot map (a replica promoted, a
 * resharding) or whose connection was lost (killed, restarted) takes
 * publishes only `settleMs` after its connection is ready again, so the
 * other nodes, which read the slot map on their own schedule, have moved
 * their subscriptions to it. Before, Redis would accept those publishes and
 * deliver them to nobody.
 */
export class ShardRoutes implements PublishLanes {
  /** Masters of the last slot map, "host:port". */
  private masters = new Set<string>();
  /** Masters that must settle: since when their connection has been seen ready (`undefined`: not yet). */
  private readonly settling = new Map<string, number | undefined>();
  /** Masters whose connection has been ready at least once. */
  private readonly served = new Set<string>();
  private readonly onRefresh = () => this.mapChanged();
  private readonly onNodeLost = (_redis: Redis, key: string) => this.unsettle(key);

  constructor(
    private readonly cluster: Cluster,
    private readonly settleMs: number,
    private readonly now: () => number = Date.now,
  ) {
    cluster.on('refresh', this.onRefresh);
    this.pool?.on('-node', this.onNodeLost);
    this.mapChanged(); // a client passed in may know its map already
  }

  private get pool(): ConnectionPool | undefined {
    return (this.cluster as unknown as { connectionPool?: ConnectionPool }).connectionPool;
  }

  /** The last channel whose slot was asked for, and its slot: a publish asks for its lane, then sends. */
  private lastChannel: string | undefined;
  private lastSlot = 0;

  private slotOf(channel: string): number {
    if (channel !== this.lastChannel) {
      this.lastSlot = keySlot(channel);
      this.lastChannel = channel;
    }
    return this.lastSlot;
  }

  /** The lane of a channel: its slot (publishes of one slot keep their order). */
  lane(channel: string): number {
    return this.slotOf(channel);
  }

  /** True when a publish in `slot` may be written now: its master's connection is ready and the master settled. */
  open(slot: number): boolean {
    const master = this.cluster.slots[slot]?.[0];
    const redis = master === undefined ? undefined : this.pool?.getInstanceByKey(master);
    if (!master || !redis) return false;
    if (redis.status === 'wait') redis.connect().catch(() => {}); // pool connections are lazy, and only a write would start this one
    // Not writable: the socket ended, and ioredis would queue the publish only to fail it when it closes.
    if (redis.status !== 'ready' || (redis.stream as { writable?: boolean } | undefined)?.writable !== true) {
      if (this.settling.has(master)) this.settling.set(master, undefined);
      return false;
    }
    this.served.add(master);
    if (!this.settling.has(master)) return true;
    const since = this.settling.get(master);
    if (since === undefined) {
      this.settling.set(master, this.now());
      return false;
    }
    if (this.now() - since < this.settleMs) return false;
    this.settling.delete(master);
    return true;
  }

  /**
   * True while the lane waits only for its master's first connection (pool
   * connections open at the first publish): a short wait at start, not a
   * shard that failed or took over.
   */
  opening(slot: number): boolean {
    const master = this.cluster.slots[slot]?.[0];
    if (!master || this.served.has(master) || this.settling.has(master)) return false;
    // No connection yet (the pool adds it with the slot map), or one still opening.
    const status = this.pool?.getInstanceByKey(master)?.status;
    return status === undefined || status === 'wait' || status === 'connecting' || status === 'connect';
  }

  /**
   * SPUBLISH on the connection to the master of the channel's slot. A reply
   * that says the map is stale (MOVED, ASK, CLUSTERDOWN) fails the publish
   * and refreshes the map; ioredis does not redirect or retry it.
   */
  send(channel: string, data: string): Promise<unknown> {
    const master = this.cluster.slots[this.slotOf(channel)]?.[0];
    const redis = master === undefined ? undefined : this.pool?.getInstanceByKey(master);
    if (!redis) return Promise.reject(new Error('no connection to the master of its slot'));
    // The publishes of one turn to this master leave in one write.
    holdForTurn(redis);
    return redis.spublish(channel, data).catch((error: Error) => {
      if (/^(MOVED|ASK|CLUSTERDOWN)\b/.test(error.message)) this.refreshSlots();
      throw error;
    });
  }

  /** The connection to the master of `slot` (for a script that must run there once, never redirected). */
  master(slot: number): Redis | undefined {
    const master = this.cluster.slots[slot]?.[0];
    return master === undefined ? undefined : this.pool?.getInstanceByKey(master);
  }

  /** After the whole cluster was unreachable: every master settles again. */
  reset(): void {
    for (const master of this.masters) this.unsettle(master);
  }

  private refreshSlots(): void {
    (this.cluster as unknown as { refreshSlotsCache?: () => void }).refreshSlotsCache?.();
  }

  close(): void {
    this.cluster.off('refresh', this.onRefresh);
    this.pool?.off('-node', this.onNodeLost);
  }

  /** A master that was not one in the last map settles before it takes publishes. */
  private mapChanged(): void {
    const masters = new Set<string>();
    for (const nodes of this.cluster.slots) if (nodes?.[0]) masters.add(nodes[0]);
    if (masters.size === 0) return;
    // The first map is the one the broker started with: nothing to wait for.
    if (this.masters.size > 0) for (const master of masters) if (!this.masters.has(master)) this.unsettle(master);
    this.masters = masters;
  }

  private unsettle(key: string): void {
    if (this.masters.size > 0) this.settling.set(key, undefined);
  }
}
