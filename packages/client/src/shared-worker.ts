/**
 * The `SharedWorker` that holds the one WebSocket of `share: 'worker'`.
 * Tabs load it with
 * `new SharedWorker(new URL('./shared-worker.js', import.meta.url), { type: 'module', name: 'wshub' })`.
 */
import { WORKER_BEAT_MS, type WorkerMessage } from './share/port-messages.js';
import { type PortLike, ShareHost } from './share/share-host.js';

interface SharedWorkerScope {
  onconnect: ((event: { ports: readonly PortLike[] }) => void) | null;
  navigator?: { locks?: { request(name: string, callback: () => unknown): Promise<unknown> } };
}

const scope = globalThis as unknown as SharedWorkerScope;
const host = new ShareHost(scope.navigator?.locks);
/** The ports of the tabs served: each hears a beat, by which it knows this worker still runs. */
const ports = new Set<PortLike>();
const beat: WorkerMessage = { type: 'beat', worker: `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}` };

scope.onconnect = (event) => {
  const port = event.ports[0];
  if (!port) return;
  ports.add(port);
  host.connect({
    postMessage: (message) => port.postMessage(message),
    get onmessage() {
      return port.onmessage;
    },
    set onmessage(handler) {
      port.onmessage = handler;
    },
    close() {
      ports.delete(port);
      port.close();
    },
  });
  port.postMessage(beat);
};
setInterval(() => {
  for (const port of ports) port.postMessage(beat);
}, WORKER_BEAT_MS);
