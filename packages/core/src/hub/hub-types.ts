import type { PresenceChange } from '../brokers/broker.js';
import type { HubError } from '../protocol/errors.js';
import type { HubCounters } from './hub-counters.js';
import type { HubRequest } from '../config/options.js';
import type { MessageDelivered, MessageUndelivered } from './receipts.js';

export type { HubSocket, HubSocketFields } from '../session/socket-fields.js';

/** Payloads of the hub's notifications (`hub.on(name, handler)`). */
export type HubEvents<User, S> = {
  /** A socket was accepted, before `authenticate` ran. */
  connected: { socket: S; request: HubRequest };
  /** `authenticate` accepted the socket; it is registered and receives deliveries. */
  ready: { socket: S; user: User };
  /** A socket closed. `authorized` tells whether it had been `ready`. */
  disconnected: {
    socket: S;
    userId?: string;
    deviceFingerprint?: string;
    code: number;
    reason: string;
    authorized: boolean;
  };
  /** A valid client event other than watch/unwatch. */
  message: { socket: S; event: string; data: unknown };
  /** Errors from user callbacks and the broker; the hub never throws them at callers. */
  error: HubError;
  /**
   * A user came online (first socket anywhere in the cluster) or went
   * offline (last socket anywhere closed, or its node died). Emitted once
   * per change in the whole cluster, on one node.
   */
  presence: PresenceChange;
  /**
   * Receipts: a device of the user confirmed the message (once per
   * confirming socket). Emitted on the node that sent the message.
   */
  delivered: MessageDelivered;
  /**
   * Receipts: no device of the user confirmed the message within
   * `receipts.undeliveredAfterMs`. Emitted once in the cluster, on the node
   * that sent the message: hand it off to web push, FCM or e-mail here.
   */
  undelivered: MessageUndelivered;
};

export interface HubStats extends HubCounters {
  /** Errors reported through `'error'`, by their `source` (`'canWatch'`, `'broker'`, …). */
  errorsBySource: Record<string, number>;
  /** Open sockets, authorized or not. */
  connections: number;
  /** Sockets whose `authenticate` is still pending. */
  pending: number;
  /** Distinct users with at least one socket on this node. */
  users: number;
  /** Receipts this node waits for (0 with receipts off). */
  receiptsPending: number;
  broker: Record<string, number>;
}
