import type { Worker } from 'node:cluster';
import { type IpcBatch, OpQueue, type RelayOp } from './worker-ipc.js';

/** One worker as the relay sees it. */
export class WorkerLink {
  readonly channels = new Set<string>();
  readonly users = new Set<string>();
  readonly out: OpQueue<RelayOp>;
  /** Bytes of this worker's batches not acknowledged yet: they went to a worker whose queue is full. */
  heldAck = 0;
  /** The full workers that `heldAck` waits for. */
  readonly blockers = new Set<WorkerLink>();
  /** The workers whose acknowledgements wait for this one's queue to drain. */
  readonly waiters = new Set<WorkerLink>();

  constructor(
    readonly worker: Worker,
    prefix: string,
    flushed: (link: WorkerLink) => void,
    offset: () => number | undefined,
  ) {
    this.out = new OpQueue<RelayOp>(
      prefix,
      (batch: IpcBatch<RelayOp>, done) => {
        if (!worker.isConnected()) return true;
        try {
          // With a callback, a failed write (EPIPE: the worker died mid-write)
          // is handed to it instead of being emitted as the Worker's 'error'.
          return worker.send(batch, () => done());
        } catch {
          // The worker is going away; its 'exit' cleans up.
          return true;
        }
      },
      () => true,
      () => flushed(this),
      offset,
    );
  }
}
