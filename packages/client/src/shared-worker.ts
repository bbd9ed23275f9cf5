/**
 * The `SharedWorker` that holds the one WebSocket of `share: 'worker'`.
 * Tabs load it with
 * `new SharedWorker(new URL('./shared-worker.js', import.meta.url), { type: 'module', name: 'wshub' })`.
 */
import { type PortLike, ShareHost } from './share/share-host.js';

interface SharedWorkerScope {
  onconnect: ((event: { ports: readonly PortLike[] }) => void) | null;
  navigator?: { locks?: { request(name: string, callback: () => unknown): Promise<unknown> } };
}

const scope = globalThis as unknown as SharedWorkerScope;
const host = new ShareHost(scope.navigator?.locks);
scope.onconnect = (event) => {
  const port = event.ports[0];
  if (port) host.connect(port);
};
