/**
 * The messages a {@link WorkerBroker} (in a `node:cluster` worker) and the
 * {@link WorkerRelay} (in the primary) exchange over Node's IPC channel.
 * Operations are batched: everything one side queues in one turn of the
 * event loop travels as one IPC message, so a thousand sockets
 * authenticating in one turn cost one message, not two thousand.
 */

/** Marks our IPC messages among whatever else the app sends over the channel. */
export const IPC_TAG = 'wshub.worker-broker';

/** Worker → primary. */
export type WorkerOp =
  | ['hello']
  | ['sub', channel: string]
  | ['unsub', channel: string]
  | ['pub', channel: string, data: string]
  | ['join', userId: string, user: unknown]
  | ['leave', userId: string]
  | ['query', id: number, kind: QueryKind, userId?: string]
  | ['bye'];

/** Primary → worker. */
export type RelayOp =
  | ['welcome']
  | ['msg', channel: string, data: string]
  | ['presence', userId: string, online: boolean]
  | ['answer', id: number, result: unknown];

/** `users`: every online user with its plain user object; `ids`: their ids; `has`: one user online? */
export type QueryKind = 'users' | 'ids' | 'has';

export interface IpcBatch<Op> {
  [IPC_TAG]: string; // the broker prefix
  ops: Op[];
}

export function isBatch<Op>(message: unknown, prefix: string): message is IpcBatch<Op> {
  return (
    typeof message === 'object' &&
    message !== null &&
    (message as Record<string, unknown>)[IPC_TAG] === prefix &&
    Array.isArray((message as { ops?: unknown }).ops)
  );
}

/**
 * Collects operations and hands them to `send` as one batch on
 * `process.nextTick`: after the current synchronous work, before I/O.
 */
export class OpBatcher<Op> {
  private ops: Op[] = [];
  private scheduled = false;
  batches = 0;

  constructor(
    private readonly prefix: string,
    private readonly send: (batch: IpcBatch<Op>) => void,
  ) {}

  push(op: Op): void {
    this.ops.push(op);
    if (this.scheduled) return;
    this.scheduled = true;
    process.nextTick(() => this.flush());
  }

  /** Sends what is queued now (also used on close, when no later tick may come). */
  flush(): void {
    this.scheduled = false;
    if (this.ops.length === 0) return;
    const ops = this.ops;
    this.ops = [];
    this.batches++;
    this.send({ [IPC_TAG]: this.prefix, ops });
  }
}
