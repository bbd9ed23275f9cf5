import type { HistoryEntry, HistoryRecord, MessageHistory, Position } from './history.js';
import type { RecordedRow, WorkerOp } from './worker-ipc.js';

/** What a worker's history needs from its `WorkerBroker`. */
export interface WorkerHistoryParts {
  /** Queues an operation for the relay, in order with the worker's others. */
  push(op: WorkerOp): void;
  /** Asks the relay for a replay; settles with its answer, rejects when it does not answer in time. */
  read(userId: string, position: Position): Promise<unknown>;
}

const isRow = (r: unknown): r is RecordedRow =>
  Array.isArray(r) && typeof r[0] === 'number' && (r[1] === null || typeof r[1] === 'string') && typeof r[3] === 'string' && typeof r[4] === 'string';

/**
 * A worker's view of the history its {@link WorkerRelay} keeps in the
 * primary: a message to record goes to the relay, which numbers it and
 * hands it back, in offset order, to every worker that holds its user (this
 * one too); a resume reads from the relay. The epoch is the relay's, known
 * once it answered (the hub holds a v2 socket's welcome until then).
 */
export class WorkerHistory implements MessageHistory {
  private epoch = '';
  /** The newest offset this worker knows of: its position for a client that starts now. */
  known = 0;
  private learned: (() => void) | undefined;
  private readonly learning = new Promise<void>((resolve) => {
    this.learned = resolve;
  });

  constructor(private readonly parts: WorkerHistoryParts) {}

  record({ userId, filter, event, text, id }: HistoryRecord): void {
    // The sender's id, when it gave one: the relay's history drops a repeat sent through another worker.
    this.parts.push(id === undefined ? ['rec', userId ?? null, filter, event, text] : ['rec', userId ?? null, filter, event, text, id]);
  }

  position(): Position {
    return { epoch: this.epoch, offset: this.known };
  }

  positionKnown(): Promise<void> {
    return this.learning;
  }

  async read(userId: string, from: Position): Promise<HistoryEntry[] | undefined> {
    if (this.epoch === '' || from.epoch !== this.epoch) return undefined;
    const rows = await this.parts.read(userId, from);
    if (!Array.isArray(rows) || !rows.every(isRow)) return undefined;
    return rows.map(([offset, user, filter, event, text]) => ({ offset, userId: user ?? undefined, filter, event, text, at: 0 }));
  }

  /** The relay's history: its epoch and newest offset. */
  opened(epoch: string, offset: number): void {
    this.epoch = epoch;
    this.seen(offset);
    this.learned?.();
  }

  seen(offset: number): void {
    if (offset > this.known) this.known = offset;
  }

  close(): void {
    this.learned?.();
  }
}
