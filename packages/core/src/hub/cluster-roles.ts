import type { Envelope, PresenceChange } from '../brokers/broker.js';
import type { BrokerBus, BrokerPresence } from '../brokers/roles.js';
import { HubError } from '../protocol/errors.js';
import { type DeliveryFilter, matchesFilter } from '../routing/delivery-filter.js';
import type { UserRegistry } from '../routing/user-registry.js';
import type { AdmittedSession } from '../session/socket-session.js';

/**
 * The bus as cluster sync uses it. Its local implementation publishes
 * nothing; the shared one hands envelopes to the broker's bus.
 */
export interface HubBus {
  toUser(userId: string, envelope: Envelope): void;
  toAll(envelope: Envelope): void;
  /** To the one node `nodeId` (receipts' confirmations): its own channel when the bus has one, else every node. */
  toNode(nodeId: string, envelope: Envelope): void;
  /** This node now holds its first socket of the user / its last is gone. */
  hold(userId: string): void;
  release(userId: string): void;
  /** Before this node admits its first socket of the user: a promise to await first (see `BrokerBus.claimUser`). */
  claim(userId: string): Promise<void> | undefined;
  /** Flow control (see `Broker.admit`). */
  admit(): Promise<void> | undefined;
}

/** A single node: nothing travels. */
export const localBus: HubBus = {
  toUser() {},
  toAll() {},
  toNode() {},
  hold() {},
  release() {},
  claim: () => undefined,
  admit: () => undefined,
};

/** The broker's bus; user objects in `update` envelopes travel as plain JSON. */
export class SharedBus implements HubBus {
  constructor(private readonly bus: BrokerBus) {}

  toUser(userId: string, envelope: Envelope): void {
    this.bus.publishToUser(userId, envelope.kind === 'update' ? { ...envelope, user: toPlain(envelope.user) } : envelope);
  }
  toAll(envelope: Envelope): void {
    this.bus.publishToAll(envelope);
  }
  toNode(nodeId: string, envelope: Envelope): void {
    if (this.bus.publishToNode) this.bus.publishToNode(nodeId, envelope);
    else this.bus.publishToAll(envelope);
  }
  hold(userId: string): void {
    this.bus.subscribeUser?.(userId);
  }
  release(userId: string): void {
    this.bus.unsubscribeUser?.(userId);
  }
  claim(userId: string): Promise<void> | undefined {
    return this.bus.claimUser?.(userId);
  }
  admit(): Promise<void> | undefined {
    return this.bus.admit?.();
  }
}

/** Presence as cluster sync uses it, with the app's user objects. */
export interface HubPresence<User> {
  joined(userId: string, user: User): void;
  updated(userId: string, user: User): void;
  left(userId: string): void;
  /**
   * The users a push with callbacks runs for, each with a user object: at
   * least those whose sockets pass `filter` for `event`.
   */
  recipients(event: string, filter: DeliveryFilter): Promise<Iterable<[string, User]>>;
  onlineUsers(): Promise<string[]>;
  isOnline(userId: string): Promise<boolean>;
}

/** What presence needs from the hub. */
export interface PresenceHost {
  presence(change: PresenceChange): void;
  report(error: HubError): void;
}

type Rooms<User, S extends object> = UserRegistry<AdmittedSession<User, S>>;

/** This node's users: its registry, its changes, live user objects. */
export class LocalPresence<User, S extends object> implements HubPresence<User> {
  constructor(
    private readonly rooms: Rooms<User, S>,
    private readonly host: PresenceHost,
  ) {}

  joined(userId: string): void {
    this.host.presence({ userId, online: true });
  }
  updated(): void {}
  left(userId: string): void {
    this.host.presence({ userId, online: false });
  }
  /** Only the users with a socket that would get the message, with that socket's user object. */
  async recipients(event: string, filter: DeliveryFilter): Promise<Iterable<[string, User]>> {
    return localRecipients(this.rooms, event, filter);
  }
  async onlineUsers(): Promise<string[]> {
    return this.rooms.userIds();
  }
  async isOnline(userId: string): Promise<boolean> {
    return this.rooms.has(userId);
  }
}

/** The broker's presence: users travel as plain JSON. */
export class SharedPresence<User, S extends object> implements HubPresence<User> {
  constructor(
    private readonly presence: BrokerPresence,
    private readonly rooms: Rooms<User, S>,
    private readonly host: PresenceHost,
  ) {}

  joined(userId: string, user: User): void {
    this.presence.userJoined(userId, toPlain(user));
  }
  updated(userId: string, user: User): void {
    this.presence.userUpdated(userId, toPlain(user));
  }
  left(userId: string): void {
    this.presence.userLeft(userId);
  }
  /** Every online user of the cluster (plain JSON); while the broker cannot answer, this node's. */
  async recipients(): Promise<Iterable<[string, User]>> {
    try {
      return [...(await this.presence.users())] as Array<[string, User]>;
    } catch (error) {
      this.host.report(HubError.from('broker', error, 'push callbacks ran for this node only'));
      const out: Array<[string, User]> = [];
      for (const [userId, room] of this.rooms.entries()) {
        const first = room.values().next();
        if (!first.done) out.push([userId, toPlain(first.value.user) as User]);
      }
      return out;
    }
  }
  onlineUsers(): Promise<string[]> {
    return this.presence.onlineUsers();
  }
  isOnline(userId: string): Promise<boolean> {
    return this.presence.isOnline(userId);
  }
}

/** Local users that could receive `event` under `filter`, with the user object of their first such socket. */
function* localRecipients<User, S extends object>(
  rooms: Rooms<User, S>,
  event: string,
  filter: DeliveryFilter,
): Iterable<[string, User]> {
  for (const [userId, room] of rooms.entries()) {
    for (const session of room) {
      if (matchesFilter(session, event, filter)) {
        yield [userId, session.user];
        break;
      }
    }
  }
}

/** User objects that travel between nodes are JSON. */
export function toPlain(user: unknown): unknown {
  return JSON.parse(JSON.stringify(user));
}
