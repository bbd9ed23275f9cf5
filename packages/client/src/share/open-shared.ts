import type { ResolvedOptions } from '../options.js';
import { type BroadcastChannelConstructor, type LockManagerLike, openLeader } from './leader.js';
import { WORKER_BEAT_MS, WORKER_TIMEOUT_MS } from './port-messages.js';
import { SharedHubClient, type TabPort } from './shared-client.js';

interface SharedWorkerLike {
  port: TabPort & { start?(): void };
  onerror: ((event: unknown) => void) | null;
}
type SharedWorkerConstructor = new (url: URL, options: { type: 'module'; name: string }) => SharedWorkerLike;

/** What the tabs of one URL say on their channel in `share: 'worker'`: the worker named `worker` is gone. */
interface WorkerLost {
  kind: 'worker-lost';
  worker: string;
}
interface WorkerChannel {
  postMessage(message: WorkerLost): void;
  onmessage: ((event: { data: WorkerLost }) => void) | null;
}

let warned = false;

/**
 * The tab's side of `share`: a {@link SharedHubClient} on the shared worker
 * or on the leader tab, or `undefined` for a client of its own where
 * neither can be had (`share: true`; said once in the console).
 *
 * @throws {TypeError} for `share: 'worker'` or `'leader'` where the browser lacks what it needs.
 */
export function openShared(options: ResolvedOptions): SharedHubClient | undefined {
  const scope = globalThis as {
    SharedWorker?: SharedWorkerConstructor;
    BroadcastChannel?: BroadcastChannelConstructor;
    MessageChannel?: Parameters<typeof openLeader>[3];
    navigator?: { locks?: LockManagerLike };
  };
  const SharedWorker = scope.SharedWorker;
  const locks = scope.navigator?.locks;
  const canLead =
    locks !== undefined && typeof scope.BroadcastChannel === 'function' && typeof scope.MessageChannel === 'function';
  if (options.share === 'leader' || (options.share === 'auto' && typeof SharedWorker !== 'function' && canLead)) {
    if (!canLead) {
      throw new TypeError(
        `wshub client: option "share" is 'leader', but Web Locks (navigator.locks), BroadcastChannel or MessageChannel is missing here; use share: true to fall back`,
      );
    }
    return openLeader(options, locks!, scope.BroadcastChannel!, scope.MessageChannel!);
  }
  if (typeof SharedWorker !== 'function') {
    if (options.share === 'worker') {
      throw new TypeError(`wshub client: option "share" is 'worker', but there is no SharedWorker here; use share: true to fall back`);
    }
    if (!warned) {
      warned = true;
      // A browser library's one word to the developer: nothing else would tell them the tabs do not share.
      // biome-ignore lint/suspicious/noConsole: said once, where the app cannot otherwise learn it
      console.warn(
        'wshub client: there is neither SharedWorker nor Web Locks with BroadcastChannel here, so each tab has its own WebSocket (share: true)',
      );
    }
    return undefined;
  }
  return openWorker(options, SharedWorker, locks, scope.BroadcastChannel);
}

/**
 * `share: 'worker'`: the tab's client talks to the shared worker over its
 * port. The worker beats every {@link WORKER_BEAT_MS}; after
 * {@link WORKER_TIMEOUT_MS} of silence (the browser ended or crashed it) the
 * tab starts a new one and attaches to it with its watches and position,
 * and tells the other tabs on a `BroadcastChannel`, so they all move at once
 * and the new socket resumes from the earliest position among them.
 */
function openWorker(
  options: ResolvedOptions,
  SharedWorker: SharedWorkerConstructor,
  locks: LockManagerLike | undefined,
  BroadcastChannel: BroadcastChannelConstructor | undefined,
): SharedHubClient {
  let worker = startWorker(SharedWorker);
  /** The name the current worker gives in its beats; unknown until the first. */
  let workerName: string | undefined;
  let lastBeat = Date.now();
  const link: TabPort = {
    onmessage: null,
    postMessage: (message) => worker.port.postMessage(message),
    close: () => worker.port.close(),
  };
  const client = new SharedHubClient(options, link, locks);
  const Channel = BroadcastChannel as unknown as (new (name: string) => WorkerChannel) | undefined;
  const channel = Channel ? new Channel(`wshub:worker:${options.url.href}`) : undefined;

  const listen = () => {
    worker.port.onmessage = (event) => {
      lastBeat = Date.now();
      if (event.data.type === 'beat') workerName = event.data.worker;
      else link.onmessage?.(event);
    };
    // A worker script that cannot be loaded (not served beside the bundle) would otherwise leave the tab connecting for ever.
    worker.onerror = () =>
      client.fail(
        new Error(
          'wshub client: the shared worker could not be started: is shared-worker.js served beside the bundle that holds the client? (see "One socket for all tabs" in the README)',
        ),
      );
    worker.port.start?.();
  };

  const replace = () => {
    if (client.state === 'closed') return;
    if (workerName !== undefined) channel?.postMessage({ kind: 'worker-lost', worker: workerName });
    workerName = undefined;
    // If it still runs after all (this tab was the one that hung), it lets go of this tab.
    worker.port.postMessage({ type: 'detach' });
    worker.port.close();
    worker.onerror = null;
    worker = startWorker(SharedWorker);
    lastBeat = Date.now();
    listen();
    client.hostLost();
    client.reattach();
  };

  if (channel) {
    channel.onmessage = ({ data }) => {
      // Another tab noticed first. A tab on another worker (or one that already
      // moved) stays, and so does one that just heard this worker beat: the
      // tab that spoke had hung itself.
      const silent = Date.now() - lastBeat >= 2 * WORKER_BEAT_MS;
      if (data.kind === 'worker-lost' && data.worker === workerName && silent) replace();
    };
  }
  listen();
  const watchdog = setInterval(() => {
    if (client.state === 'closed') clearInterval(watchdog);
    else if (Date.now() - lastBeat >= WORKER_TIMEOUT_MS) replace();
  }, WORKER_BEAT_MS);
  return client;
}

function startWorker(SharedWorker: SharedWorkerConstructor): SharedWorkerLike {
  try {
    // Written out in full, as bundlers (Vite, webpack 5) look for this exact
    // form to emit the worker file; the name is fixed for the same reason
    // (Vite wants static options): one worker serves every URL.
    return new SharedWorker(new URL('./shared-worker.js', import.meta.url), { type: 'module', name: 'wshub' });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new TypeError(
      `wshub client: could not start the shared worker (share needs the ES module build, where ./shared-worker.js sits beside it): ${message}`,
      { cause: error },
    );
  }
}
