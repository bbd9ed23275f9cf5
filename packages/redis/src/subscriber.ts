import type { Cluster, Redis } from 'ioredis';
import { keySlot } from './key-slot.js';
import { LivenessProbe } from './liveness-probe.js';
import { SubscriberConnection } from './subscriber-connection.js';

/** What a subscriber needs from its broker. */
export interface SubscriberContext {
  /** A message on a subscribed channel (probe tokens are handled here). */
  message(channel: string, data: Buffer): void;
  /** Redis confirmed `channels` (each still wanted). */
  confirmed(channels: string[]): void;
  /** A command or connection failure, for a throttled report. */
  failed(kind: 'subscribe' | 'connection', error: Error): void;
  /** A subscriber connection is ready (again). */
  ready(): void;
  /**
   * A subscriber connection is gone (closed or replaced), or `channels` moved
   * to another master's connection: messages published meanwhile on them did
   * not reach this node.
   */
  down(channels: string[]): void;
  /** A plain report through the hub's `'error'`. */
  report(error: Error): void;
  /** Publishes a probe token on the command connection; resolves with the receivers Redis counted. */
  publish(channel: string, token: string): Promise<number>;
  commandWritable(): boolean;
  probeTimeoutMs: number;
  commandTimeoutMs: number;
  /** A channel unconfirmed this long on a connection that answers: the connection is replaced. */
  subscribeTimeoutMs: number;
}

/**
 * The channels a node subscribes, on one Redis ({@link StandaloneSubscriber})
 * or over the masters of a Redis Cluster ({@link ShardedSubscriber}).
 */
export interface Subscriber {
  add(channel: string): void;
  remove(channel: string): void;
  /** True once Redis confirmed `channel` on the connection that carries it. */
  isConfirmed(channel: string): boolean;
  /** Channels Redis confirmed, over all connections (probe channels included). */
  readonly confirmedCount: number;
  /** Channels this node wants. */
  wanted(): Iterable<string>;
  readonly wantedCount: number;
  /** Connections replaced after a failed liveness probe. */
  readonly restarts: number;
  /** Runs each connection's liveness probe. */
  probe(): void;
  /**
   * The subscription watchdog, run at every node heartbeat: subscribes again
   * what a connection wants but Redis has not confirmed (a failed SUBSCRIBE,
   * one unanswered for `commandTimeoutMs`, one Redis ended); after
   * `subscribeTimeoutMs` unconfirmed on a connection that answers, replaces
   * the connection, whose channels are reported down.
   */
  repair(now?: number): void;
  close(): void;
}

/** A subscriber connection with its liveness probe on a channel only it carries. */
class ProbedConnection {
  readonly connection: SubscriberConnection;
  readonly probe: LivenessProbe;

  constructor(
    create: () => Redis,
    private readonly ctx: SubscriberContext,
    sharded: boolean,
    probeChannel: string,
    private readonly onRestart: () => void,
  ) {
    this.connection = new SubscriberConnection(
      create,
      {
        message: (channel, data) => {
          if (channel === this.probe.channel) this.probe.receive(data.toString());
          else ctx.message(channel, data);
        },
        confirmed: (channels) => ctx.confirmed(channels.filter((channel) => channel !== this.probe.channel)),
        failed: (kind, error) => ctx.failed(kind, error),
        ready: () => ctx.ready(),
        down: () => ctx.down([...this.connection.wanted].filter((channel) => channel !== this.probe.channel)),
      },
      sharded,
    );
    this.probe = new LivenessProbe({
      channel: probeChannel,
      subscriber: this.connection,
      publish: (channel, token) => ctx.publish(channel, token),
      commandWritable: () => ctx.commandWritable(),
      probeTimeoutMs: ctx.probeTimeoutMs,
      commandTimeoutMs: ctx.commandTimeoutMs,
      failed: (why) => {
        onRestart();
        ctx.report(
          new Error(
            `wshub: the Redis subscriber failed its liveness check (${why}); replacing the connection and re-subscribing ${this.connection.wanted.size} channels`,
          ),
        );
        this.connection.replace();
      },
    });
    this.connection.add([probeChannel]);
  }

  /** Wanted channels other than the probe's. */
  get size(): number {
    return this.connection.wanted.size - 1;
  }

  /**
   * The watchdog (see {@link Subscriber.repair}). Returns true when a channel
   * waited `commandTimeoutMs` or Redis ended one: on a cluster, the slot map
   * may be stale.
   */
  repair(now: number): boolean {
    const { connection, ctx } = this;
    const dropped = connection.dropped();
    if (dropped.length > 0) ctx.down(dropped.filter((channel) => channel !== this.probe.channel));
    const waiting = connection.unconfirmed(now);
    if (waiting.length === 0) return dropped.length > 0;
    // While Redis still confirms others (a large re-subscribe under load), a channel gets three times as long.
    const busy = now - connection.progressAt < ctx.commandTimeoutMs;
    const stuck = waiting.filter(([, ms]) => ms >= (busy ? 3 : 1) * ctx.subscribeTimeoutMs);
    if (stuck.length > 0) {
      this.onRestart();
      ctx.report(
        new Error(
          `wshub: Redis did not confirm ${stuck.length} channels within ${ctx.subscribeTimeoutMs} ms (${stuck[0]![0]}${stuck.length > 1 ? ', …' : ''}); replacing the subscriber connection and re-subscribing ${connection.wanted.size} channels`,
        ),
      );
      connection.replace(); // reports every channel of the connection down: their sockets close for a resume
      return true;
    }
    const late = waiting.filter(([channel, ms]) => !connection.pending(channel) || ms >= ctx.commandTimeoutMs);
    connection.resubscribe(late.map(([channel]) => channel));
    return dropped.length > 0 || late.some(([, ms]) => ms >= ctx.commandTimeoutMs);
  }

  close(): void {
    this.probe.stop();
    this.connection.close();
  }
}

/** One subscriber connection to one Redis, with SUBSCRIBE. */
export class StandaloneSubscriber implements Subscriber {
  private readonly one: ProbedConnection;
  restarts = 0;

  constructor(create: () => Redis, ctx: SubscriberContext, probeChannel: string) {
    this.one = new ProbedConnection(create, ctx, false, probeChannel, () => this.restarts++);
  }

  add(channel: string): void {
    this.one.connection.add([channel]);
  }

  remove(channel: string): void {
    this.one.connection.remove(channel);
  }

  isConfirmed(channel: string): boolean {
    return this.one.connection.confirmed.has(channel);
  }

  get confirmedCount(): number {
    return this.one.connection.confirmed.size;
  }

  *wanted(): Iterable<string> {
    for (const channel of this.one.connection.wanted) if (channel !== this.one.probe.channel) yield channel;
  }

  get wantedCount(): number {
    return this.one.size;
  }

  probe(): void {
    this.one.probe.check();
  }

  repair(now = Date.now()): void {
    this.one.repair(now);
  }

  close(): void {
    this.one.close();
  }
}

/**
 * Sharded pub/sub over a Redis Cluster: one subscriber connection per master,
 * each carrying the channels whose slots that master serves (SSUBSCRIBE
 * accepts only those). The placement follows the cluster's slot map: after
 * every refresh of the command connection's map (a failover, a resharding,
 * a MOVED reply), channels whose master changed move to a connection to the
 * new master, and connections to nodes that serve no slot any more are
 * closed. Each connection has its own liveness probe, on a channel chosen to
 * fall in a slot of its master.
 */
export class ShardedSubscriber implements Subscriber {
  /** master "host:port" → its connection. */
  private readonly byMaster = new Map<string, ProbedConnection>();
  /** channel → the master it was placed on. */
  private readonly placement = new Map<string, string>();
  private readonly onRefresh = () => this.replace();
  private closed = false;
  /** When the watchdog last asked for the slot map. */
  private refreshedAt = 0;
  restarts = 0;

  private readonly ctx: SubscriberContext;

  constructor(
    private readonly cluster: Cluster,
    private readonly create: (host: string, port: number) => Redis,
    ctx: SubscriberContext,
    /** Probe channels are `<probePrefix>:<n>`, `n` chosen per master. */
    private readonly probePrefix: string,
  ) {
    // A MOVED reply to SSUBSCRIBE means the slot map is stale: refresh it,
    // and the 'refresh' that follows places the channel again.
    this.ctx = {
      ...ctx,
      failed: (kind, error) => {
        if (/\b(MOVED|ASK|CLUSTERDOWN)\b/.test(error.message)) this.refreshSlots();
        ctx.failed(kind, error);
      },
    };
    cluster.on('refresh', this.onRefresh);
  }

  private refreshSlots(): void {
    (this.cluster as unknown as { refreshSlotsCache?: () => void }).refreshSlotsCache?.();
  }

  /** The master serving `channel`'s slot in the current map, or `undefined` before the map is known. */
  private masterOf(channel: string): string | undefined {
    return this.cluster.slots[keySlot(channel)]?.[0];
  }

  add(channel: string): void {
    if (this.closed || this.placement.has(channel)) return;
    const master = this.masterOf(channel);
    this.placement.set(channel, master ?? '');
    if (master) this.connectionTo(master)?.connection.add([channel]);
  }

  remove(channel: string): void {
    const master = this.placement.get(channel);
    this.placement.delete(channel);
    if (master) this.byMaster.get(master)?.connection.remove(channel);
  }

  isConfirmed(channel: string): boolean {
    const master = this.placement.get(channel);
    return master !== undefined && this.byMaster.get(master)?.connection.confirmed.has(channel) === true;
  }

  get confirmedCount(): number {
    let n = 0;
    for (const one of this.byMaster.values()) n += one.connection.confirmed.size;
    return n;
  }

  wanted(): Iterable<string> {
    return this.placement.keys();
  }

  get wantedCount(): number {
    return this.placement.size;
  }

  /** How many wanted channels each master carries now, for stats and tests. */
  spread(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [master, one] of this.byMaster) out[master] = one.size;
    return out;
  }

  probe(): void {
    for (const one of this.byMaster.values()) one.probe.check();
  }

  /**
   * The watchdog: a channel unconfirmed for `commandTimeoutMs` (a MOVED, an
   * SSUBSCRIBE lost with its connection) re-reads the slot map, at most
   * once per `commandTimeoutMs`: the 'refresh' that follows moves channels
   * whose master changed, and the others are subscribed again where they are.
   */
  repair(now = Date.now()): void {
    let stale = false;
    for (const one of [...this.byMaster.values()]) if (one.repair(now)) stale = true;
    if (stale && now - this.refreshedAt >= this.ctx.commandTimeoutMs) {
      this.refreshedAt = now;
      this.refreshSlots();
    }
  }

  close(): void {
    this.closed = true;
    this.cluster.off('refresh', this.onRefresh);
    for (const one of this.byMaster.values()) one.close();
    this.byMaster.clear();
  }

  /**
   * Moves every channel to the master that serves its slot now. Connections
   * to nodes that serve no slot any more, or whose probe channel moved away,
   * are closed and their channels placed again.
   */
  private replace(): void {
    if (this.closed) return;
    const masters = new Set<string>();
    for (const nodes of this.cluster.slots) if (nodes?.[0]) masters.add(nodes[0]);
    if (masters.size === 0) return; // no map yet
    for (const [master, one] of this.byMaster) {
      if (masters.has(master) && this.masterOf(one.probe.channel) === master) continue;
      one.close();
      this.byMaster.delete(master);
    }
    const moves = new Map<string, string[]>();
    const moved: string[] = [];
    for (const [channel, from] of this.placement) {
      const to = this.masterOf(channel);
      if (!to || (to === from && this.byMaster.has(from))) continue;
      if (from) {
        this.byMaster.get(from)?.connection.remove(channel);
        moved.push(channel);
      }
      this.placement.set(channel, to);
      let list = moves.get(to);
      if (!list) {
        list = [];
        moves.set(to, list);
      }
      list.push(channel);
    }
    if (moved.length > 0) this.ctx.down(moved);
    for (const [master, channels] of moves) this.connectionTo(master)?.connection.add(channels);
  }

  private connectionTo(master: string): ProbedConnection | undefined {
    const existing = this.byMaster.get(master);
    if (existing) return existing;
    const at = master.lastIndexOf(':');
    const host = master.slice(0, at);
    const port = Number(master.slice(at + 1));
    const probeChannel = this.probeChannelOn(master);
    if (!probeChannel) return undefined;
    const one = new ProbedConnection(() => this.create(host, port), this.ctx, true, probeChannel, () => this.restarts++);
    this.byMaster.set(master, one);
    return one;
  }

  /** A probe channel whose slot `master` serves (a few dozen tries at most with three masters). */
  private probeChannelOn(master: string): string | undefined {
    for (let n = 0; n < 100_000; n++) {
      const channel = `${this.probePrefix}:${n}`;
      if (this.masterOf(channel) === master) return channel;
    }
    return undefined;
  }
}
