import type { Position } from '@wshub/core/protocol';
import type { ConnectionState, ForbiddenWatch } from '../events.js';
import type { ConfirmBatchOptions, ReconnectOptions } from '../options.js';

/**
 * What a tab and the shared worker say to each other over the tab's
 * `MessagePort`. Everything here survives structured cloning: no functions,
 * no class instances.
 */

/** How often the shared worker tells each tab it still runs. */
export const WORKER_BEAT_MS = 500;
/**
 * Silence after which a tab takes the worker for gone (crashed, ended by the
 * browser) and starts a new one. Messages are not throttled in hidden tabs,
 * so beats come on time wherever the worker runs.
 */
export const WORKER_TIMEOUT_MS = 2_000;

/** The options a tab hands the worker; the first tab's are the shared connection's. */
export interface SharedOptions {
  /** Resolved in the tab: a relative URL means the page's, not the worker script's. */
  url: string;
  protocols: string[];
  tokenIn: 'protocol' | 'query';
  hasToken: boolean;
  reconnect: Required<ReconnectOptions>;
  /** Absent from a tab of an older version: the default. */
  connectTimeoutMs?: number;
  maxQueuedMessages: number;
  confirmBatch?: Required<ConfirmBatchOptions>;
  recover: boolean;
  /** `'manual'`: the connection confirms a message when the first tab that got it acks it. */
  ack: 'auto' | 'manual';
  /** The latest recovery position the tab knows of: a new connection resumes from it (leader hand-over). */
  position?: Position;
}

/** Tab → worker. `key` names one `watch()` call of that tab. */
export type TabMessage =
  /** `lock` is a Web Lock the tab holds until it goes: when the worker gets it, the tab is gone. */
  | { type: 'attach'; options: SharedOptions; lock: string | null }
  | { type: 'watch'; key: number; event: string; payload: string | null }
  | { type: 'unwatch'; key: number }
  /** The tab has (or no longer has) a handler for this server event. */
  | { type: 'listen'; event: string }
  | { type: 'unlisten'; event: string }
  /** `{ event, data }` as JSON, checked and serialised in the tab. */
  | { type: 'send'; frame: string }
  | { type: 'token'; id: number; token?: unknown; error?: string }
  /** The tab's `message.ack()` (or, with its `ack: 'auto'`, its handlers returned) for a message that `awaitsAck`. */
  | { type: 'ack'; id: string }
  | { type: 'detach' };

/** Worker → tab. */
export type WorkerMessage =
  | { type: 'state'; state: ConnectionState }
  /**
   * `position`: the shared client's, this message's offset included (with
   * recovery). `id`: the message's, with receipts; `awaitsAck`: the
   * connection (`ack: 'manual'`) confirms it when a tab acks it.
   */
  | { type: 'message'; event: string; data: unknown; position?: Position; id?: string; awaitsAck?: true }
  /** One of the client's own events, for every tab. */
  | { type: 'emit'; event: 'close' | 'unauthorized' | 'ended' | 'exception' | 'recovered'; data: unknown }
  | { type: 'error'; error: SerializedError }
  | { type: 'confirmed'; key: number }
  | { type: 'forbidden'; key: number; watch: ForbiddenWatch }
  /** The shared socket needs a token: answer with a `token` message of the same id. */
  | { type: 'token'; id: number }
  /**
   * The worker still runs (sent by the worker every `WORKER_BEAT_MS`; a
   * leader tab beats on its channel instead). `worker` names this worker,
   * so the tabs can agree on which one is gone.
   */
  | { type: 'beat'; worker: string };

export interface SerializedError {
  name: string;
  message: string;
  code?: number;
  reason?: string;
}
