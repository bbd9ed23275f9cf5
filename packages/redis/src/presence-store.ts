import type { Redis } from 'ioredis';

/** HSET arguments per command, so a re-announce of many users never builds one giant command. */
const HSET_CHUNK = 1000;

/**
 * The cluster's presence records in Redis. Each node owns its own keys, so
 * nodes never contend and a dead node's records expire on their own:
 *
 * - `<prefix>:nodes` — set of node ids that wrote presence (cleaned by a sweep);
 * - `<prefix>:node:<nodeId>` — the node's heartbeat, a string with a TTL of `ttlMs`;
 * - `<prefix>:presence:<nodeId>` — hash userId → user JSON of the users the node
 *   holds, with the same TTL, refreshed on each heartbeat.
 *
 * Readers count a node only while its heartbeat key exists, so a node that
 * died without cleaning up drops out of presence within `ttlMs`.
 */
export class PresenceStore {
  readonly nodesKey: string;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly nodeId: string,
    private readonly ttlMs: number,
  ) {
    this.nodesKey = `${prefix}:nodes`;
  }

  heartbeatKey(nodeId = this.nodeId): string {
    return `${this.prefix}:node:${nodeId}`;
  }

  presenceKey(nodeId = this.nodeId): string {
    return `${this.prefix}:presence:${nodeId}`;
  }

  /** Records (or refreshes) users this node holds. */
  async add(entries: ReadonlyArray<readonly [string, string]>): Promise<void> {
    if (entries.length === 0) return;
    const tx = this.redis.multi();
    for (let i = 0; i < entries.length; i += HSET_CHUNK) {
      tx.hset(this.presenceKey(), ...entries.slice(i, i + HSET_CHUNK).flat());
    }
    tx.pexpire(this.presenceKey(), this.ttlMs);
    checkExec(await tx.exec());
  }

  async remove(userId: string): Promise<void> {
    await this.redis.hdel(this.presenceKey(), userId);
  }

  /**
   * Replaces this node's records with exactly `entries` and renews its
   * heartbeat, in one transaction so readers never see a half-written set.
   * Used after a reconnect, when Redis may have lost everything or kept
   * users who left meanwhile.
   */
  async replaceAll(entries: ReadonlyArray<readonly [string, string]>): Promise<void> {
    const tx = this.redis.multi();
    tx.del(this.presenceKey());
    for (let i = 0; i < entries.length; i += HSET_CHUNK) {
      tx.hset(this.presenceKey(), ...entries.slice(i, i + HSET_CHUNK).flat());
    }
    tx.pexpire(this.presenceKey(), this.ttlMs);
    tx.set(this.heartbeatKey(), String(Date.now()), 'PX', this.ttlMs);
    tx.sadd(this.nodesKey, this.nodeId);
    checkExec(await tx.exec());
  }

  /**
   * Renews this node's heartbeat and records. Resolves `false` when the
   * presence hash was gone (Redis restarted or was flushed), so the caller
   * can write it again.
   */
  async heartbeat(): Promise<boolean> {
    const tx = this.redis.multi();
    tx.set(this.heartbeatKey(), String(Date.now()), 'PX', this.ttlMs);
    tx.sadd(this.nodesKey, this.nodeId);
    tx.pexpire(this.presenceKey(), this.ttlMs);
    const results = checkExec(await tx.exec());
    return results[2] === 1;
  }

  /** Forgets nodes whose heartbeat expired (their records expire by TTL too); returns how many. */
  async sweep(): Promise<number> {
    const nodes = await this.redis.smembers(this.nodesKey);
    if (nodes.length === 0) return 0;
    const p = this.redis.pipeline();
    for (const node of nodes) p.exists(this.heartbeatKey(node));
    const alive = checkExec(await p.exec());
    const dead = nodes.filter((_, i) => alive[i] === 0);
    if (dead.length === 0) return 0;
    const tx = this.redis.multi();
    tx.srem(this.nodesKey, ...dead);
    tx.del(...dead.map((node) => this.presenceKey(node)));
    checkExec(await tx.exec());
    return dead.length;
  }

  /** Removes this node's records (a clean shutdown). */
  async retire(): Promise<void> {
    const tx = this.redis.multi();
    tx.del(this.presenceKey(), this.heartbeatKey());
    tx.srem(this.nodesKey, this.nodeId);
    checkExec(await tx.exec());
  }

  /** Every user on a live node with its JSON text (one copy when several nodes hold a user). */
  async entries(): Promise<Map<string, string>> {
    const nodes = await this.redis.smembers(this.nodesKey);
    const out = new Map<string, string>();
    if (nodes.length === 0) return out;
    const p = this.redis.pipeline();
    for (const node of nodes) {
      p.exists(this.heartbeatKey(node));
      p.hgetall(this.presenceKey(node));
    }
    const results = checkExec(await p.exec());
    for (let i = 0; i < nodes.length; i++) {
      if (results[2 * i] !== 1) continue;
      const hash = results[2 * i + 1] as Record<string, string>;
      for (const userId of Object.keys(hash)) if (!out.has(userId)) out.set(userId, hash[userId]!);
    }
    return out;
  }

  /** Ids of the users on live nodes. */
  async userIds(): Promise<string[]> {
    const nodes = await this.redis.smembers(this.nodesKey);
    if (nodes.length === 0) return [];
    const p = this.redis.pipeline();
    for (const node of nodes) {
      p.exists(this.heartbeatKey(node));
      p.hkeys(this.presenceKey(node));
    }
    const results = checkExec(await p.exec());
    const out = new Set<string>();
    for (let i = 0; i < nodes.length; i++) {
      if (results[2 * i] !== 1) continue;
      for (const userId of results[2 * i + 1] as string[]) out.add(userId);
    }
    return [...out];
  }

  /** Whether a live node holds `userId`. */
  async has(userId: string): Promise<boolean> {
    const nodes = await this.redis.smembers(this.nodesKey);
    if (nodes.length === 0) return false;
    const p = this.redis.pipeline();
    for (const node of nodes) {
      p.exists(this.heartbeatKey(node));
      p.hexists(this.presenceKey(node), userId);
    }
    const results = checkExec(await p.exec());
    for (let i = 0; i < nodes.length; i++) {
      if (results[2 * i] === 1 && results[2 * i + 1] === 1) return true;
    }
    return false;
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
