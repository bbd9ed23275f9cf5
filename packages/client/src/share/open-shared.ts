import type { ResolvedOptions } from '../options.js';
import { SharedHubClient, type TabPort } from './shared-client.js';

interface SharedWorkerLike {
  port: TabPort & { start?(): void };
  onerror: ((event: unknown) => void) | null;
}
type SharedWorkerConstructor = new (url: URL, options: { type: 'module'; name: string }) => SharedWorkerLike;

let warned = false;

/**
 * The tab's side of `share`: a {@link SharedHubClient} on the shared worker,
 * or `undefined` for a client of its own where there is no `SharedWorker`
 * (`share: true`; said once in the console).
 *
 * @throws {TypeError} for `share: 'worker'` where there is no `SharedWorker`.
 */
export function openShared(options: ResolvedOptions): SharedHubClient | undefined {
  const scope = globalThis as {
    SharedWorker?: SharedWorkerConstructor;
    navigator?: { locks?: ConstructorParameters<typeof SharedHubClient>[2] };
  };
  const SharedWorker = scope.SharedWorker;
  if (typeof SharedWorker !== 'function') {
    if (options.share === 'worker') {
      throw new TypeError(`wshub client: option "share" is 'worker', but there is no SharedWorker here; use share: true to fall back`);
    }
    if (!warned) {
      warned = true;
      // A browser library's one word to the developer: nothing else would tell them the tabs do not share.
      // biome-ignore lint/suspicious/noConsole: said once, where the app cannot otherwise learn it
      console.warn('wshub client: there is no SharedWorker here, so each tab has its own WebSocket (share: true)');
    }
    return undefined;
  }
  let worker: SharedWorkerLike;
  try {
    // Written out in full, as bundlers (Vite, webpack 5) look for this exact
    // form to emit the worker file; the name is fixed for the same reason
    // (Vite wants static options): one worker serves every URL.
    worker = new SharedWorker(new URL('./shared-worker.js', import.meta.url), { type: 'module', name: 'wshub' });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new TypeError(
      `wshub client: could not start the shared worker (share needs the ES module build, where ./shared-worker.js sits beside it): ${message}`,
      { cause: error },
    );
  }
  worker.port.start?.();
  return new SharedHubClient(options, worker.port, scope.navigator?.locks);
}
