/**
 * The primary of a node:cluster for the WorkerBroker tests: runs a
 * WorkerRelay, forks hub workers (worker.mjs) on demand and passes the
 * test's calls to them. Everything it learns (presence changes, exits) is
 * sent to the test process. Exits when the test goes away.
 */
import cluster from 'node:cluster';
import { fileURLToPath } from 'node:url';

const { WorkerRelay } = await import(process.env.WSHUB_CORE_DIST ?? '../../dist/index.js');

cluster.setupPrimary({
  exec: fileURLToPath(new URL('./worker.mjs', import.meta.url)),
  // WSHUB_WORKER_ARGS: node flags for the workers, e.g. a small heap.
  execArgv: [...process.execArgv, ...(process.env.WSHUB_WORKER_ARGS?.split(' ').filter(Boolean) ?? [])],
  silent: false,
});

// With a callback, a write after the test went away fails quietly instead of as the process's 'error'.
const toTest = (message) => process.connected && process.send(message, () => {});
const relay = new WorkerRelay({ onPresence: (change) => toTest({ type: 'relay-presence', ...change }) });

let nextCall = 0;
const calls = new Map();
/** worker id → the broker's IPC messages (batches) it sent to the primary, counted here, outside the code under test. */
const ipc = {};

cluster.on('message', (worker, message) => {
  if (message?.['wshub.worker-broker'] !== undefined) ipc[worker.id] = (ipc[worker.id] ?? 0) + 1;
  if (message?.type === 'presence') toTest({ type: 'presence', worker: worker.id, userId: message.userId, online: message.online });
  else if (message?.type === 'error') toTest({ type: 'error', worker: worker.id, message: message.message });
  else if (message?.type === 'reply') {
    calls.get(message.id)?.(message);
    calls.delete(message.id);
  }
});
cluster.on('exit', (worker, code, signal) => toTest({ type: 'exit', worker: worker.id, code, signal }));

const commands = {
  fork() {
    const worker = cluster.fork();
    return new Promise((resolve, reject) => {
      worker.once('listening', (address) => resolve({ worker: worker.id, port: address.port, pid: worker.process.pid }));
      worker.once('exit', (code) => reject(new Error(`worker exited (${code}) before listening`)));
    });
  },
  kill({ worker: id }) {
    const worker = cluster.workers[id];
    if (!worker) throw new Error(`no worker ${id}`);
    return new Promise((resolve) => {
      worker.once('exit', () => resolve({}));
      worker.process.kill('SIGKILL');
    });
  },
  call({ worker: id, method, args }) {
    const worker = cluster.workers[id];
    if (!worker) throw new Error(`no worker ${id}`);
    const callId = nextCall++;
    return new Promise((resolve, reject) => {
      calls.set(callId, (m) => (m.error ? reject(new Error(m.error)) : resolve(m.result)));
      worker.send({ type: 'call', id: callId, method, args });
    });
  },
  relayStats: () => relay.stats(),
  ipcCount: () => ({ ...ipc }),
  stop({ worker: id }) {
    process.kill(cluster.workers[id].process.pid, 'SIGSTOP');
    return {};
  },
  memory: () => process.memoryUsage(),
};

process.on('message', async ({ id, command, args }) => {
  try {
    toTest({ type: 'reply', id, result: await commands[command](args) });
  } catch (error) {
    toTest({ type: 'reply', id, error: String(error?.message ?? error) });
  }
});
process.on('disconnect', () => {
  for (const worker of Object.values(cluster.workers)) worker.process.kill('SIGKILL');
  process.exit(0);
});
