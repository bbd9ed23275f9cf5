import type { BrokerNode } from '@wshub/core';
import type { ThrottledReporter } from './throttled-reporter.js';
import type { CommandConnection } from './command-connection.js';
import type { PresenceStore, PresenceTransition } from './presence-store.js';
import { RedisUnavailableError } from './redis-unavailable-error.js';

/** Heartbeats that time out in a row before the broker's own command connection is reset. */
const STALLED_HEARTBEATS = 2;

export interface PresenceReplicatorOptions {
  node: BrokerNode;
  store: PresenceStore;
  commands: CommandConnection;
  reporter: ThrottledReporter;
  /** True once Redis confirmed the user's channel: only then is the user written to presence. */
  reachable(userId: string): boolean;
  /** Brings the subscribed user channels in line with `users` (after an outage). */
  reconcile(users: ReadonlyMap<string, unknown>): void;
  /** Counts a presence record that is not valid JSON. */
  ignored(): void;
}

/**
 * This node's share of cluster presence, replicated to Redis: the users it
 * holds (userId → user JSON, mirroring the hub's registry), written once
 * their channel is confirmed, removed when they leave, renewed on every
 * heartbeat, written again from the hub's registry after Redis lost them or a
 * write failed. It emits the cluster-wide presence transitions that Redis
 * assigned to this node (see {@link PresenceStore}), and answers the
 * cluster-wide presence queries.
 */
export class PresenceReplicator {
  /** Users this node holds: userId → user JSON. */
  private held = new Map<string, string>();
  /** A write failed or could not be made: the next heartbeat writes everything again. */
  private stale = false;
  /** Users who left while their removal could not be written; removed by the next re-announce. */
  private readonly pendingLeaves = new Set<string>();
  private busy = false;
  /** Re-announces in flight, and the users written meanwhile (see {@link reannounce}). */
  private reannouncing = 0;
  private readonly writtenDuringReannounce = new Set<string>();
  private stalledHeartbeats = 0;
  private closed = false;

  constructor(private readonly o: PresenceReplicatorOptions) {}

  get size(): number {
    return this.held.size;
  }

  /** The user joined this node, or changed (`updateUser`). */
  join(userId: string, user: unknown): void {
    if (this.closed) return;
    const json = JSON.stringify(user);
    this.held.set(userId, json);
    this.pendingLeaves.delete(userId);
    // Not yet subscribed: written when Redis confirms the subscription.
    if (this.o.reachable(userId)) this.write([[userId, json]]);
  }

  leave(userId: string): void {
    if (this.closed) return;
    this.held.delete(userId);
    if (!this.o.commands.writable) {
      this.pendingLeaves.add(userId);
      this.stale = true;
      return;
    }
    this.o.store.remove(userId).then(
      (changes) => this.emit(changes),
      (error) => {
        this.pendingLeaves.add(userId);
        this.writeFailed(error);
      },
    );
  }

  /** Redis confirmed the channels of `userIds`: the users this node still holds go to presence. */
  reachableNow(userIds: string[]): void {
    const entries: Array<[string, string]> = [];
    for (const userId of userIds) {
      const json = this.held.get(userId);
      if (json !== undefined) entries.push([userId, json]);
    }
    this.write(entries);
  }

  /** The command connection is ready (again): rewrite everything. */
  connectionUp(): void {
    this.stalledHeartbeats = 0;
    void this.reannounce().catch((error) => this.o.reporter.report('presence', error));
  }

  private write(entries: Array<[string, string]>): void {
    if (entries.length === 0 || this.closed) return;
    if (this.reannouncing > 0) for (const [userId] of entries) this.writtenDuringReannounce.add(userId);
    if (!this.o.commands.writable) {
      this.stale = true;
      return;
    }
    this.o.store.add(entries).then(
      (changes) => this.emit(changes),
      (error) => this.writeFailed(error),
    );
  }

  /** Hands the hub the transitions Redis assigned to this node. */
  private emit(changes: PresenceTransition[]): void {
    for (const change of changes) {
      try {
        this.o.node.presence(change);
      } catch (error) {
        this.o.node.reportError(error instanceof Error ? error : new Error(String(error)));
      }
    }
  }

  private writeFailed(error: unknown): void {
    this.stale = true;
    this.o.reporter.report('presence', error);
  }

  /**
   * Writes this node's presence again from the hub's registry (the users it
   * holds now, including those who connected during an outage), and brings
   * the subscribed channels in line with it.
   */
  private async reannounce(): Promise<void> {
    if (this.closed) return;
    this.reannouncing++;
    try {
      await this.replaceAll();
    } finally {
      // A user written while the records were replaced may have been written
      // before the replacement, which left them out: written again.
      if (--this.reannouncing === 0 && this.writtenDuringReannounce.size > 0) {
        const again = [...this.writtenDuringReannounce];
        this.writtenDuringReannounce.clear();
        this.reachableNow(again.filter((userId) => this.o.reachable(userId)));
      }
    }
  }

  private async replaceAll(): Promise<void> {
    const users = this.o.node.localUsers();
    const held = new Map<string, string>();
    for (const [userId, user] of users) held.set(userId, JSON.stringify(user));
    this.o.reconcile(users);
    this.held = held;
    const entries = [...held].filter(([userId]) => this.o.reachable(userId));
    const left = [...this.pendingLeaves];
    this.stale = false;
    try {
      this.emit(await this.o.commands.timed(this.o.store.replaceAll(entries, left), 'writing presence'));
      for (const userId of left) this.pendingLeaves.delete(userId);
    } catch (error) {
      this.stale = true;
      throw error;
    }
  }

  /**
   * Renews this node's heartbeat, rewrites its records if Redis lost them,
   * and settles nodes whose heartbeat expired (so their users go offline
   * within `nodeTtlMs` plus one heartbeat).
   */
  async heartbeat(): Promise<void> {
    if (this.closed || this.busy || !this.o.commands.writable) return;
    this.busy = true;
    try {
      if (this.stale) {
        await this.reannounce();
      } else {
        const hasRecords = await this.o.commands.timed(this.o.store.heartbeat(), 'the heartbeat');
        if (!hasRecords && this.held.size > 0) await this.reannounce();
      }
      this.emit(await this.o.commands.timed(this.o.store.sweep(), 'the presence sweep'));
      this.stalledHeartbeats = 0;
    } catch (error) {
      this.o.reporter.report('heartbeat', error);
      if (error instanceof RedisUnavailableError && ++this.stalledHeartbeats >= STALLED_HEARTBEATS) {
        this.stalledHeartbeats = 0;
        this.o.commands.resetStalled();
      }
    } finally {
      this.busy = false;
    }
  }

  /** Every online user of the cluster with its user object (parsed JSON); this node's users included. */
  async users(): Promise<Map<string, unknown>> {
    this.checkQueryable();
    const entries = await this.o.commands.query(() => this.o.store.entries());
    const out = new Map<string, unknown>();
    for (const [userId, json] of entries) {
      try {
        out.set(userId, JSON.parse(json));
      } catch {
        this.o.ignored();
      }
    }
    // This node's users are known without Redis, even before their
    // subscription is confirmed, and their objects are the freshest.
    for (const [userId, user] of this.o.node.localUsers()) out.set(userId, user);
    return out;
  }

  async onlineUsers(): Promise<string[]> {
    this.checkQueryable();
    const ids = new Set(await this.o.commands.query(() => this.o.store.userIds()));
    for (const userId of this.held.keys()) ids.add(userId);
    return [...ids];
  }

  async isOnline(userId: string): Promise<boolean> {
    this.checkQueryable();
    if (this.held.has(userId)) return true;
    return this.o.commands.query(() => this.o.store.has(userId));
  }

  /** Removes this node's records (a clean shutdown; its users still listed go offline); no further writes. */
  async retire(): Promise<void> {
    this.closed = true;
    if (!this.o.commands.writable) return;
    await this.o.commands.timed(this.o.store.retire(), 'removing presence').then(
      (changes) => this.emit(changes),
      () => {},
    );
  }

  /** Throws a {@link RedisUnavailableError} when a query cannot be answered now. */
  private checkQueryable(): void {
    if (this.closed) throw new RedisUnavailableError('wshub: the RedisBroker is closed; cluster presence is unavailable');
    const unavailable = this.o.commands.unavailable();
    if (unavailable) throw unavailable;
  }
}
