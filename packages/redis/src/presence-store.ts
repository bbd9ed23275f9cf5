import type { Cluster, Redis } from 'ioredis';

/** HSET arguments per command, so a re-announce of many users never builds one giant command. */
const HSET_CHUNK = 1000;
/** Users settled per batch when a dead node's records are cleared. */
const SETTLE_CHUNK = 500;

/** A change of a user's cluster-wide presence that this node decided (and must emit). */
export interface PresenceTransition {
  userId: string;
  online: boolean;
}

/**
 * The cluster's presence records in Redis. Every multi-key operation stays
 * within one hash slot, so the same layout serves one Redis and Redis
 * Cluster:
 *
 * - `<prefix>:nodes` — set of node ids that wrote presence;
 * - `<prefix>:node:{<nodeId>}` — the node's heartbeat, a string with a TTL of `ttlMs`;
 * - `<prefix>:presence:{<nodeId>}` — hash userId → user JSON of the users the
 *   node holds. The hash tag puts it in the heartbeat's slot, so both are
 *   written in one transaction;
 * - `<prefix>:online:<userId>` — hash nodeId → 1 of the nodes that hold the
 *   user: the one key that decides the user's cluster-wide presence. No
 *   hash tag: one key per user, spread over the slots by the whole name.
 *
 * Transitions are decided atomically on the user's key: a node that adds
 * itself to an empty set (`HSET` then `HLEN` in one MULTI) made the user
 * online; a node that removes the last entry (`HDEL` then `HLEN`) made them
 * offline. Two nodes can never both see the same transition.
 *
 * A node that dies leaves its heartbeat to expire. Every node sweeps on each
 * heartbeat: a node listed in `<prefix>:nodes` without a heartbeat is
 * settled — its users are removed from their `online` keys (whoever removes
 * the last entry emits offline), then its records are deleted. Readers count
 * a node's users only while its heartbeat exists.
 */
export class PresenceStore {
  readonly nodesKey: string;

  constructor(
    private readonly redis: Redis | Cluster,
    private readonly prefix: string,
    private readonly nodeId: string,
    private readonly ttlMs: number,
  ) {
    this.nodesKey = `${prefix}:nodes`;
  }

  heartbeatKey(nodeId = this.nodeId): string {
    return `${this.prefix}:node:{${nodeId}}`;
  }

  presenceKey(nodeId = this.nodeId): string {
    return `${this.prefix}:presence:{${nodeId}}`;
  }

  onlineKey(userId: string): string {
    return `${this.prefix}:online:${userId}`;
  }

  /**
   * Records (or refreshes) users this node holds, and adds the node to each
   * user's `online` set; returns the users that became online with it.
   */
  async add(entries: ReadonlyArray<readonly [string, string]>): Promise<PresenceTransition[]> {
    if (entries.length === 0) return [];
    const tx = this.redis.multi();
    for (let i = 0; i < entries.length; i += HSET_CHUNK) {
      tx.hset(this.presenceKey(), ...entries.slice(i, i + HSET_CHUNK).flat());
    }
    // Both writes leave now, so a user's commands reach Redis in call order.
    const [written, online] = await Promise.all([tx.exec(), this.join(entries.map(([userId]) => userId))]);
    checkExec(written);
    return online;
  }

  /** Removes a user this node no longer holds; returns `[offline]` when no node holds them any more. */
  async remove(userId: string): Promise<PresenceTransition[]> {
    const [, offline] = await Promise.all([this.redis.hdel(this.presenceKey(), userId), this.leave(this.nodeId, [userId])]);
    return offline;
  }

  /**
   * Replaces this node's records with exactly `entries` and renews its
   * heartbeat (one transaction: readers never see a half-written set), then
   * brings the `online` sets in line: users in `left` that are not in
   * `entries` are removed, every user in `entries` is added. Used after a
   * reconnect, when Redis may have lost everything or kept users who left
   * meanwhile. Returns the transitions this node decided.
   */
  async replaceAll(entries: ReadonlyArray<readonly [string, string]>, left: Iterable<string>): Promise<PresenceTransition[]> {
    const before = (await this.redis.hkeys(this.presenceKey())) as string[];
    const tx = this.redis.multi();
    tx.del(this.presenceKey());
    for (let i = 0; i < entries.length; i += HSET_CHUNK) {
      tx.hset(this.presenceKey(), ...entries.slice(i, i + HSET_CHUNK).flat());
    }
    tx.set(this.heartbeatKey(), String(Date.now()), 'PX', this.ttlMs);
    checkExec(await tx.exec());
    await this.redis.sadd(this.nodesKey, this.nodeId);
    const now = new Set(entries.map(([userId]) => userId));
    const kept = new Set(before);
    const offline = await this.leave(
      this.nodeId,
      before.filter((userId) => !now.has(userId)),
    );
    // Users who left while Redis could not be written, and whom Redis no
    // longer lists for this node: Redis lost its data, or a sweep took this
    // node for dead (and may have reported them offline already).
    const lost = await this.leave(
      this.nodeId,
      [...new Set(left)].filter((userId) => !now.has(userId) && !kept.has(userId)),
      true,
    );
    const online = await this.join([...now]);
    return [...offline, ...lost, ...online];
  }

  /**
   * Renews this node's heartbeat. Resolves `false` when its presence hash
   * is gone (Redis restarted or was flushed, or a sweep took this node for
   * dead), so the caller can write it again.
   */
  async heartbeat(): Promise<boolean> {
    const tx = this.redis.multi();
    tx.set(this.heartbeatKey(), String(Date.now()), 'PX', this.ttlMs);
    tx.exists(this.presenceKey());
    const [, exists] = checkExec(await tx.exec());
    await this.redis.sadd(this.nodesKey, this.nodeId);
    return exists === 1;
  }

  /**
   * Settles the nodes whose heartbeat expired: removes their users from the
   * `online` sets and deletes their records. Returns the users that went
   * offline by this call (another node sweeping at the same time gets the
   * others: each transition is decided once).
   */
  async sweep(): Promise<PresenceTransition[]> {
    const nodes = ((await this.redis.smembers(this.nodesKey)) as string[]).filter((node) => node !== this.nodeId);
    if (nodes.length === 0) return [];
    const alive = await Promise.all(nodes.map((node) => this.redis.exists(this.heartbeatKey(node))));
    const dead = nodes.filter((_, i) => alive[i] === 0);
    const out: PresenceTransition[] = [];
    for (const node of dead) {
      const users = (await this.redis.hkeys(this.presenceKey(node))) as string[];
      for (let i = 0; i < users.length; i += SETTLE_CHUNK) {
        out.push(...(await this.leave(node, users.slice(i, i + SETTLE_CHUNK))));
      }
      // Only now: a sweeper that dies half-way leaves the list for the next one.
      await this.redis.del(this.presenceKey(node));
      await this.redis.srem(this.nodesKey, node);
    }
    return out;
  }

  /** Removes this node's records (a clean shutdown); returns the users that went offline. */
  async retire(): Promise<PresenceTransition[]> {
    const users = (await this.redis.hkeys(this.presenceKey())) as string[];
    const tx = this.redis.multi();
    tx.del(this.presenceKey(), this.heartbeatKey());
    checkExec(await tx.exec());
    await this.redis.srem(this.nodesKey, this.nodeId);
    return this.leave(this.nodeId, users);
  }

  /** Every user on a live node with its JSON text (one copy when several nodes hold a user). */
  async entries(): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    const hashes = await this.liveNodes((node) => this.redis.hgetall(this.presenceKey(node)));
    for (const hash of hashes) {
      for (const userId of Object.keys(hash)) if (!out.has(userId)) out.set(userId, hash[userId]!);
    }
    return out;
  }

  /** Ids of the users on live nodes. */
  async userIds(): Promise<string[]> {
    const out = new Set<string>();
    const lists = await this.liveNodes((node) => this.redis.hkeys(this.presenceKey(node)) as Promise<string[]>);
    for (const list of lists) for (const userId of list) out.add(userId);
    return [...out];
  }

  /** Whether a live node holds `userId`: the user's `online` set, less the nodes whose heartbeat expired. */
  async has(userId: string): Promise<boolean> {
    const nodes = (await this.redis.hkeys(this.onlineKey(userId))) as string[];
    if (nodes.length === 0) return false;
    const alive = await Promise.all(nodes.map((node) => this.redis.exists(this.heartbeatKey(node))));
    return alive.some((n) => n === 1);
  }

  /** `read(node)` for every node whose heartbeat exists, in parallel (one command per key: any slot). */
  private async liveNodes<T>(read: (node: string) => Promise<T>): Promise<T[]> {
    const nodes = (await this.redis.smembers(this.nodesKey)) as string[];
    const results = await Promise.all(
      nodes.map(async (node) => ((await this.redis.exists(this.heartbeatKey(node))) === 1 ? [await read(node)] : [])),
    );
    return results.flat();
  }

  /** Adds this node to each user's `online` set; the users for whom it was the first node went online. */
  private async join(userIds: string[]): Promise<PresenceTransition[]> {
    const results = await Promise.all(
      userIds.map(async (userId) => {
        const tx = this.redis.multi();
        tx.hset(this.onlineKey(userId), this.nodeId, '1');
        tx.hlen(this.onlineKey(userId));
        const [added, size] = checkExec(await tx.exec());
        return added === 1 && size === 1;
      }),
    );
    return userIds.filter((_, i) => results[i]).map((userId) => ({ userId, online: true }));
  }

  /**
   * Removes `node` from each user's `online` set; the users whose last node
   * it was went offline. With `emptyMeansLeft`, a user whose set is empty
   * although `node` was not in it counts as offline too: after Redis lost
   * its data, so that a user who left during the outage is not left online
   * forever (that event may repeat one another node sent).
   */
  private async leave(node: string, userIds: string[], emptyMeansLeft = false): Promise<PresenceTransition[]> {
    const results = await Promise.all(
      userIds.map(async (userId) => {
        const tx = this.redis.multi();
        tx.hdel(this.onlineKey(userId), node);
        tx.hlen(this.onlineKey(userId));
        const [removed, size] = checkExec(await tx.exec());
        return size === 0 && (removed === 1 || emptyMeansLeft);
      }),
    );
    return userIds.filter((_, i) => results[i]).map((userId) => ({ userId, online: false }));
  }
}

/** Unwraps a pipeline/transaction result; the first command error becomes the rejection. */
function checkExec(results: Array<[Error | null, unknown]> | null): unknown[] {
  if (results === null) throw new Error('wshub: a Redis transaction was aborted');
  return results.map(([error, value]) => {
    if (error) throw error;
    return value;
  });
}
