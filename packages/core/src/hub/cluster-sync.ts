import { randomUUID } from 'node:crypto';
import type { Broker, Envelope, PresenceChange, ReceiptEnvelope } from '../brokers/broker.js';
import { type BrokerBus, brokerRoles } from '../brokers/roles.js';
import type { PreparedMessage } from '../session/connection.js';
import type { Delivery } from './delivery.js';
import { recordedText } from './receipts.js';
import type { DeliveryFilter } from '../routing/delivery-filter.js';
import { HubError } from '../protocol/errors.js';
import { type HistoryRecord, MemoryHistory, type MessageHistory, type RecordedMessage, type RecoveryLimits } from '../brokers/history.js';
import { CloseCode } from '../protocol/protocol.js';
import type { AdmittedSession } from '../session/socket-session.js';
import type { Tracing } from '../config/tracing.js';
import type { UserRegistry } from '../routing/user-registry.js';
import { type HubBus, type HubPresence, LocalPresence, localBus, SharedBus, SharedPresence, toPlain } from './cluster-roles.js';

/** What cluster sync needs from the hub besides delivery. */
export interface ClusterHost {
  /** Closes the user's sockets on this node (one device, or all) with 4000. */
  disconnectLocal(userId: string, deviceFingerprint: string | undefined): void;
  presence(change: PresenceChange): void;
  report(error: HubError): void;
  /** Confirmations for receipts this node owns (with receipts on). */
  receipt?(envelope: ReceiptEnvelope): void;
}

/** What cluster sync works with. */
export interface ClusterSyncOptions<User, S extends object> {
  readonly broker: Broker | BrokerBus;
  readonly delivery: Delivery;
  readonly rooms: UserRegistry<AdmittedSession<User, S>>;
  readonly host: ClusterHost;
  readonly recovery: RecoveryLimits | undefined;
  readonly tracing: Tracing | undefined;
}

/**
 * Everything that makes several nodes one hub, in one place: each effect is
 * applied to this node's sockets, then handed to the bus for the others
 * ("deliver locally, then publish" is written once, here), and envelopes
 * from other nodes are applied. The broker's three roles (bus, presence,
 * history; see `BrokerRoles`) are resolved once, here: each role the broker
 * leaves out is a local one (the default `LocalBroker` leaves out all), so
 * nothing below asks what kind of broker it has.
 */
export class ClusterSync<User, S extends object = object> {
  /** Unique per hub instance (brokers drop their own publishes by it). */
  readonly nodeId: string = randomUUID();
  readonly broker: Broker | BrokerBus;
  private readonly bus: HubBus;
  private readonly presence: HubPresence<User>;
  private readonly delivery: Delivery;
  private readonly rooms: UserRegistry<AdmittedSession<User, S>>;
  private readonly host: ClusterHost;
  private readonly tracing: Tracing | undefined;

  constructor(options: ClusterSyncOptions<User, S>) {
    const { broker, host, recovery, tracing } = options;
    this.broker = broker;
    this.delivery = options.delivery;
    this.rooms = options.rooms;
    this.host = host;
    this.tracing = tracing;
    const roles = brokerRoles(broker);
    this.bus = roles.bus ? new SharedBus(roles.bus) : localBus;
    this.presence = roles.presence ? new SharedPresence(roles.presence, this.rooms, host) : new LocalPresence(this.rooms, host);
    broker.attach({
      nodeId: this.nodeId,
      receipts: host.receipt !== undefined,
      deliver: (envelope) => (tracing ? tracing.deliver(envelope, () => this.apply(envelope)) : this.apply(envelope)),
      localUsers: () => this.localUsers(),
      reportError: (error) => host.report(HubError.from('broker', error)),
      presence: (change) => host.presence(change),
      deliverRecorded: (message) => this.deliverRecorded(message),
      closeForResume: (userId, until) => this.closeForResume(userId, until),
    });
    if (!recovery) return;
    if (roles.history) {
      this.history = roles.history(recovery);
    } else if (!roles.bus) {
      this.history = new MemoryHistory(recovery, (message) => this.deliverRecorded(message));
    } else {
      // A history of this node alone would miss what other nodes send: a resume would claim what it never saw.
      throw new TypeError(
        `wshub: option "recovery" needs a history every node shares, and this broker (${broker.constructor.name}) keeps none; use RedisBroker, or the default single-node broker`,
      );
    }
  }

  /**
   * With recovery on: every message to users is recorded here, and the
   * history delivers it, with its offset, on every node.
   */
  readonly history: MessageHistory | undefined;

  /**
   * Before a message that will be published: `undefined` to go on; a
   * promise to await after publishing it (the broker's queue is long);
   * throws when the broker's queue is full (see `Broker.admit`).
   */
  admit(): Promise<void> | undefined {
    return this.bus.admit();
  }

  /**
   * A message for one user, wherever their sockets are. A promise: the
   * history is over its bound of records in flight; the caller waits for it.
   * `id`: the sender's id, which the history uses to drop a repeat.
   */
  sendToUser(userId: string, filter: DeliveryFilter, message: PreparedMessage, id?: string): Promise<void> | undefined {
    if (this.history) {
      return this.history.record(this.tracedRecord({ userId, filter, event: message.event, text: recordedText(message), id })) ?? undefined;
    }
    this.delivery.toUser(userId, filter, message);
    this.publish(() =>
      this.bus.toUser(
        userId,
        this.traced({ kind: 'send', userId, event: message.event, filter, message: message.text, id: message.id, origin: message.receipt?.origin }),
      ),
    );
    return undefined;
  }

  /** A message for every user, wherever they are. A promise as from {@link sendToUser}. */
  broadcast(filter: DeliveryFilter, message: PreparedMessage, id?: string): Promise<void> | undefined {
    if (this.history) {
      return this.history.record(this.tracedRecord({ userId: undefined, filter, event: message.event, text: recordedText(message), id })) ?? undefined;
    }
    this.delivery.toAll(filter, message);
    this.publish(() =>
      this.bus.toAll(
        this.traced({ kind: 'push', event: message.event, filter, message: message.text, id: message.id, origin: message.receipt?.origin }),
      ),
    );
    return undefined;
  }

  /**
   * Confirmations to the node that owns their receipts: on its own channel
   * when the broker has one (one message to one node), else to every node,
   * and the others drop it.
   */
  sendReceipt(envelope: ReceiptEnvelope): void {
    this.publish(() => this.bus.toNode(envelope.origin, envelope));
  }

  /** A recorded message, for this node's sockets (in a `wshub.deliver` span when tracing is on). */
  private deliverRecorded(recorded: RecordedMessage): void {
    if (this.tracing) this.tracing.deliverRecorded(recorded, () => this.writeRecorded(recorded));
    else this.writeRecorded(recorded);
  }

  /** With its scope and, when it has one, its offset for v2 clients. */
  private writeRecorded(recorded: RecordedMessage): void {
    const message = this.delivery.forClients(this.delivery.wrap(recorded.event, recorded.text), recorded.filter, recorded.offset);
    if (recorded.userId === undefined) this.delivery.toAll(recorded.filter, message);
    else this.delivery.toUser(recorded.userId, recorded.filter, message);
  }

  /**
   * Closes the v2 sockets of `userId` (of every user when undefined) with
   * 1012: their clients resume. With `until`, they are written nothing more
   * from now on and close once it settles.
   */
  private closeForResume(userId: string | undefined, until?: Promise<unknown>): void {
    if (!this.history) return;
    const rooms = userId === undefined ? [...this.rooms.values()] : [this.rooms.get(userId)];
    for (const room of rooms) {
      if (!room) continue;
      for (const session of [...room]) {
        if (!session.v2) continue;
        if (until) session.closeWhen(CloseCode.ServiceRestart, until);
        else session.close(CloseCode.ServiceRestart);
      }
    }
  }

  disconnect(userId: string, deviceFingerprint: string | undefined): void {
    this.host.disconnectLocal(userId, deviceFingerprint);
    this.publish(() => this.bus.toUser(userId, this.traced({ kind: 'disconnect', userId, deviceFingerprint })));
  }

  updateUser(userId: string, user: User): void {
    const room = this.rooms.get(userId);
    if (room) for (const session of room) session.replaceUser(user);
    if (room) this.guarded(() => this.presence.updated(userId, user));
    this.publish(() => this.bus.toUser(userId, this.traced({ kind: 'update', userId, user })));
  }

  /** Claims in flight (see {@link whenClaimed}): user → how many sockets wait for it. */
  private readonly claims = new Map<string, { waiting: number; settled: Promise<void> }>();

  /**
   * Runs `admit` once this node may admit a socket of `userId`: at once
   * when it holds the user already or the bus claims nothing; else once the
   * bus's claim settled (one claim per user, however many sockets wait). A
   * claim after which no socket of the user was admitted is given back.
   */
  whenClaimed(userId: string, admit: () => void): void {
    let claim = this.claims.get(userId);
    if (!claim) {
      const pending = this.rooms.has(userId) ? undefined : this.claim(userId);
      if (!pending) {
        admit();
        return;
      }
      claim = { waiting: 0, settled: pending };
      this.claims.set(userId, claim);
    }
    const current = claim;
    current.waiting++;
    void current.settled.then(() => {
      if (--current.waiting === 0) this.claims.delete(userId);
      this.guarded(admit);
      if (current.waiting === 0 && !this.rooms.has(userId)) this.publish(() => this.bus.release(userId));
    });
  }

  /** The bus's claim of `userId`, never rejecting; `undefined` when there is nothing to wait for. */
  private claim(userId: string): Promise<void> | undefined {
    if (this.bus === localBus) return undefined;
    try {
      return this.bus.claim(userId)?.then(undefined, (error) => this.host.report(HubError.from('broker', error)));
    } catch (error) {
      this.host.report(HubError.from('broker', error));
      return undefined;
    }
  }

  /** This node now holds its first socket of the user. */
  joined(userId: string, user: User): void {
    this.publish(() => this.bus.hold(userId));
    this.guarded(() => this.presence.joined(userId, user));
  }

  /** This node's last socket of the user is gone. */
  left(userId: string): void {
    this.publish(() => this.bus.release(userId));
    this.guarded(() => this.presence.left(userId));
  }

  /** The users a push with callbacks runs for: at least those who could get `event` under `filter`. */
  recipients(event: string, filter: DeliveryFilter): Promise<Iterable<[string, User]>> {
    return this.presence.recipients(event, filter);
  }

  onlineUsers(): Promise<string[]> {
    return this.presence.onlineUsers();
  }

  isOnline(userId: string): Promise<boolean> {
    return this.presence.isOnline(userId);
  }

  async close(): Promise<void> {
    try {
      await this.history?.close();
    } catch (error) {
      this.host.report(HubError.from('broker', error));
    }
    try {
      await this.broker.close?.();
    } catch (error) {
      this.host.report(HubError.from('broker', error));
    }
  }

  /** The envelope with the active span's `traceparent`, when tracing is on and there is one. */
  private traced(envelope: Envelope): Envelope {
    const tp = this.tracing?.traceparent();
    if (tp !== undefined) envelope.tp = tp;
    return envelope;
  }

  /** The record with the active span's `traceparent`, when tracing is on and there is one. */
  private tracedRecord(record: HistoryRecord): HistoryRecord {
    const tp = this.tracing?.traceparent();
    return tp === undefined ? record : { ...record, tp };
  }

  /** Applies an envelope from another node; true when it wrote a message to this node's sockets. */
  private apply(envelope: Envelope): boolean {
    switch (envelope.kind) {
      case 'send':
      case 'push': {
        const plain = this.delivery.wrap(envelope.event, envelope.message, envelope.id, envelope.origin);
        const tooBig = this.delivery.oversize(plain);
        if (tooBig) {
          this.host.report(HubError.from('broker', tooBig, 'a message from another node'));
          return false;
        }
        const message = this.delivery.forClients(plain, envelope.filter);
        if (envelope.kind === 'send') this.delivery.toUser(envelope.userId, envelope.filter, message);
        else this.delivery.toAll(envelope.filter, message);
        return true;
      }
      case 'disconnect':
        this.host.disconnectLocal(envelope.userId, envelope.deviceFingerprint);
        return false;
      case 'update': {
        const room = this.rooms.get(envelope.userId);
        if (!room) return false;
        // The user object as the node that updated it sent it (JSON).
        for (const session of room) session.replaceUser(envelope.user as User);
        this.publish(() => this.presence.updated(envelope.userId, envelope.user as User));
        return false;
      }
      case 'receipt':
        if (envelope.origin === this.nodeId) this.host.receipt?.(envelope);
        return false;
    }
  }

  /** This node's users with one user object each, as plain JSON copies. */
  private localUsers(): Map<string, unknown> {
    const out = new Map<string, unknown>();
    for (const [userId, room] of this.rooms.entries()) {
      const first = room.values().next();
      if (!first.done) out.set(userId, toPlain(first.value.user));
    }
    return out;
  }

  /** Runs a broker call; a broker that throws is reported, never thrown at the hub's caller. */
  private publish(call: () => void): void {
    // A single node: nothing travels, so no envelope (nor its traceparent) is made.
    if (this.bus !== localBus) this.guarded(call);
  }

  /** A broker call whose throw is reported, never thrown into the socket's path. */
  private guarded(call: () => void): void {
    try {
      call();
    } catch (error) {
      this.host.report(HubError.from('broker', error));
    }
  }
}
