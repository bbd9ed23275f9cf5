// One machine, every core: the hub on node:cluster workers that share one port, a WorkerBroker in
// each worker and a WorkerRelay in the primary. Run: npm run start --workspace examples/cluster
import cluster from 'node:cluster';
import { createServer } from 'node:http';
import { availableParallelism } from 'node:os';
import { WorkerBroker, WorkerRelay, WsHub } from '@wshub/core';

const port = Number(process.env.PORT ?? 3000);
const workers = Number(process.env.WORKERS ?? availableParallelism());

if (cluster.isPrimary) {
  new WorkerRelay(); // before the first fork
  let stopping = false;
  let crashes = 0; // in a row: a worker that cannot start must not be forked again in a tight loop
  const restarts = new Set();
  const forkedAt = new Map();
  const fork = () => forkedAt.set(cluster.fork(), Date.now());
  for (let i = 0; i < workers; i++) fork();
  let listening = 0;
  cluster.on('listening', (_worker, address) => {
    if (++listening === workers) process.stdout.write(`wshub cluster example on http://localhost:${address.port}\n`);
  });
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return;
    // A worker that ran 10 s is replaced after 1 s; one that keeps dying young, after 2 s, 4 s … 30 s.
    const lived = Date.now() - forkedAt.get(worker);
    forkedAt.delete(worker);
    crashes = lived > 10_000 ? 1 : crashes + 1;
    const delay = Math.min(1000 * 2 ** (crashes - 1), 30_000);
    process.stderr.write(`worker ${worker.id} exited (${signal ?? code}); forking another in ${delay} ms\n`);
    const timer = setTimeout(() => {
      restarts.delete(timer);
      fork();
    }, delay);
    restarts.add(timer);
  });
  // SIGTERM (docker stop, Kubernetes) or Ctrl-C: every worker closes its clients with 1001, then the primary exits.
  const stop = () => {
    if (stopping) return;
    stopping = true;
    for (const timer of restarts) clearTimeout(timer);
    for (const worker of Object.values(cluster.workers)) worker.process.kill('SIGTERM');
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
} else {
  /** Demo tokens. A real app verifies a session cookie or a signed token. */
  const users = { 'alice-token': 'alice', 'bob-token': 'bob' };
  const hub = new WsHub({
    authenticate(req) {
      const url = new URL(req.url, 'http://localhost');
      const id = users[url.searchParams.get('token')];
      if (!id) throw new Error('unknown token'); // → close 4403
      return { id, deviceFingerprint: url.searchParams.get('device') ?? 'browser' };
    },
    broker: new WorkerBroker(),
  });
  hub.on('error', (error) => process.stderr.write(`worker ${cluster.worker.id}: ${error.message}\n`));

  // POST /users/bob/messages?text=hi, answered by whichever worker the connection reached:
  // the message gets to bob's sockets on every worker.
  const server = createServer(async (req, res) => {
    const url = new URL(req.url, 'http://localhost');
    const to = url.pathname.match(/^\/users\/([^/]+)\/messages$/)?.[1];
    if (req.method !== 'POST' || !to) return res.writeHead(404).end();
    await hub.sendMessage(to, 'message', { text: url.searchParams.get('text') ?? 'hello', sentBy: cluster.worker.id });
    res.writeHead(202, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ sentBy: cluster.worker.id, socketsHere: hub.socketsOf(to).length }));
  });
  hub.attach(server);
  server.listen(port); // every worker listens on the same port

  // The primary passes SIGTERM on; Ctrl-C reaches every process of the terminal, so this may run twice.
  const stop = () => hub.close().then(() => process.exit(0)); // close() is idempotent
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
