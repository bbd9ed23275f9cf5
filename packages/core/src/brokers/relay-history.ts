import type { DeliveryFilter } from '../routing/delivery-filter.js';
import { type HistoryEntry, MemoryHistory, type RecordedMessage, type RecoveryLimits } from './history.js';
import type { RecordedRow, RelayOp } from './worker-ipc.js';

/** What the relay's history needs from the relay. */
export interface RelayHistoryHost<Link> {
  /** The workers that hold `userId` (that subscribe its channel); every worker for `undefined` (a broadcast). */
  linksOf(userId: string | undefined): Iterable<Link>;
  send(link: Link, op: RelayOp): void;
}

const isCount = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) > 0;

function validLimits(value: unknown): RecoveryLimits | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { maxMessages, ttlMs, maxUsers, maxBytes } = value as Record<string, unknown>;
  if (!isCount(maxMessages) || !isCount(ttlMs) || !isCount(maxUsers) || !isCount(maxBytes)) return undefined;
  return { maxMessages, ttlMs, maxUsers, maxBytes };
}

const row = (e: HistoryEntry): RecordedRow => [e.offset, e.userId ?? null, e.filter, e.event, e.text];

/**
 * The message history of every worker of a `node:cluster`, kept by the
 * {@link WorkerRelay} in the primary: one `MemoryHistory`, so one offset
 * counter numbers every message of the machine, and a resume on any worker
 * replays from here. It outlives any worker; a new primary is a new
 * history (a new epoch), and a resume from the old one answers failed.
 *
 * Bounded as a single node's history is, by the `recovery` limits of the
 * first worker that asked for it (`maxMessages` and `ttlMs` per user and for
 * broadcasts, `maxUsers` and `maxBytes` for every user together: past
 * those, the histories of the users idle longest go whole, and their
 * resumes answer failed).
 */
export class RelayHistory<Link> {
  private history: MemoryHistory | undefined;

  constructor(private readonly host: RelayHistoryHost<Link>) {}

  /** A worker's hub has recovery on: the history starts (with its limits) if it has not, and the worker learns where it stands. */
  open(link: Link, limits: unknown): void {
    if (!this.history) {
      const valid = validLimits(limits);
      if (!valid) return;
      this.history = new MemoryHistory(valid, (entry) => this.fanOut(entry));
    }
    const { epoch, offset } = this.history.position();
    this.host.send(link, ['history', epoch, offset]);
  }

  /**
   * Numbers a message and hands it, in offset order, to every worker that
   * holds its user (every worker: a broadcast). One whose `id` the history
   * still keeps for that user (or among the broadcasts) is a repeat, sent
   * through another worker: dropped.
   */
  record(userId: string | null, filter: DeliveryFilter, event: string, text: string, id?: string): void {
    this.history?.record({ userId: userId ?? undefined, filter, event, text, id });
  }

  /** What `userId` missed after `offset` of `epoch`, or `null` when that cannot be served in full. */
  read(userId: string, epoch: string, offset: number): RecordedRow[] | null {
    return this.history?.read(userId, { epoch, offset })?.map(row) ?? null;
  }

  /**
   * A worker subscribed `userId`'s channel at `sentAt` (`Date.now()`, one
   * machine's clock) having seen offsets up to `known`: a message for the
   * user recorded after it sent that and before the relay took it never
   * reached the worker, and its new socket's welcome (taken at `known`)
   * would let the client pass it by. The worker's v2 sockets of the user are
   * closed for a resume then, which replays it. A message from before the
   * socket connected is not its concern (a resume from an earlier position
   * reads it anyway).
   */
  subscribed(link: Link, userId: string, known: number, sentAt: number): void {
    const newest = this.history?.newestOf(userId);
    if (newest && newest.offset > known && newest.at >= sentAt) this.host.send(link, ['resume', userId]);
  }

  /** The newest offset, once the history started. */
  offset(): number | undefined {
    return this.history?.position().offset;
  }

  /** Nothing until the history started. */
  stats(): { historyUsers?: number; historyBytes?: number } {
    if (!this.history) return {};
    const { users, bytes } = this.history.stats();
    return { historyUsers: users, historyBytes: bytes };
  }

  close(): void {
    this.history?.close();
  }

  /** A memory history numbers every message it records. */
  private fanOut(entry: RecordedMessage): void {
    const op: RelayOp = ['rec', entry.offset ?? 0, entry.userId ?? null, entry.filter, entry.event, entry.text];
    for (const link of this.host.linksOf(entry.userId)) this.host.send(link, op);
  }
}
