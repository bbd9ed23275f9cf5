/**
 * What one idle authenticated connection costs the server: heap + external
 * after a full GC, ÷ N, for wshub and for raw `ws` (the baseline of
 * scenarios G and H: the same contenders, the same auth and heartbeat),
 * side by side, the contenders alternating over several rounds. With
 * `--classes`, also where the bytes are: heap snapshots of each server
 * before and after the clients connect, the growth of self size by
 * constructor ÷ N, the largest differences first (`DETAIL=1` splits the
 * internal types by name). The snapshots are of the first round only.
 * With `--expires`, every user is given an `expiresAt` `EXPIRES_MS` ahead
 * (default one hour), so each wshub session holds its expiry (before the
 * shared deadline queue: one Node timer per socket); raw `ws` has no expiry
 * and holds what it held. With `--closing`, each server is then closed
 * (`close()` of the contender: `hub.close()` for wshub, every socket at
 * once with 1001) while the clients never answer the close frame (their
 * sockets are no longer read), and heap + external is measured again
 * within the close timeout, ÷ N: what a closing connection holds (only for
 * contenders that close gracefully: the raw `ws` baselines terminate).
 *
 *   node bench/src/idle-cost.mjs                      # N = 2,000, 3 rounds
 *   CLIENTS=5000 ROUNDS=2 node bench/src/idle-cost.mjs --classes
 *   CONTENDERS=wshub-core,ws-serialize-once,/tmp/old/wshub-core.mjs node bench/src/idle-cost.mjs
 *   CONTENDERS=wshub-core,ws-idle,/tmp/old/wshub-core.mjs node bench/src/idle-cost.mjs --expires
 *   CONTENDERS=wshub-core,/tmp/old/wshub-core.mjs node bench/src/idle-cost.mjs --closing
 *
 * `CONTENDERS` names files of `src/contenders` (the first is compared with
 * the second), or paths to contender files elsewhere (a copy importing an
 * older build of `@wshub/core`, for before and after in one run).
 * `AUTH_RATE` (default 5000, as in G; 0 answers at once, as in C) throttles
 * the auth of contenders that take it.
 *
 * Each server is a fresh child process (`--expose-gc`); the clients are raw
 * `ws` sockets (protocol v2, a token each) in this process that send nothing.
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';

const CLIENTS = Number(process.env.CLIENTS ?? 2000);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const CONTENDERS = (process.env.CONTENDERS ?? 'wshub-core,ws-idle').split(',');
const PATH = '/api/v1/ws';
const EXPIRES = process.argv.includes('--expires');
const EXPIRES_MS = Number(process.env.EXPIRES_MS ?? 3_600_000);
const CLOSING = process.argv.includes('--closing');
const print = (line) => process.stdout.write(`${line}\n`);
const gc = async () => {
  for (let i = 0; i < 4; i++) {
    globalThis.gc();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};
const memory = () => {
  const { heapUsed, external } = process.memoryUsage();
  return [heapUsed, heapUsed + external];
};

if (process.argv[2] === 'server') {
  const { userFromRequest } = await import('./lib/payload.mjs');
  // A contender is a file of ./contenders, or a path to one elsewhere (an older build, for before/after).
  const name = process.argv[3];
  const mod = await import(name.includes('/') ? name : `./contenders/${name}.mjs`);
  const server = createServer((_req, res) => res.end());
  let ready = 0;
  const contender = await mod.start({
    server,
    path: PATH,
    authenticate: EXPIRES ? (req) => ({ ...userFromRequest(req), expiresAt: Date.now() + EXPIRES_MS }) : userFromRequest,
    onReady: () => ready++,
    onWatch() {},
    options: { heartbeatMs: 30_000, authRate: Number(process.env.AUTH_RATE ?? 5000) },
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  await gc();
  const before = memory();
  const classesBefore = process.argv.includes('--classes') ? await classes() : undefined;
  await gc();
  process.send({ port: server.address().port });
  process.on('message', async (m) => {
    if (m.type !== 'measure') return;
    while (ready < m.clients) await new Promise((resolve) => setTimeout(resolve, 20));
    await gc();
    const after = memory();
    const reply = { perConnection: after.map((bytes, i) => (bytes - before[i]) / m.clients) };
    if (CLOSING) {
      // Every socket closing at once; its peer does not answer, so it stays closing for the close timeout (wshub: 2 s).
      const started = Date.now();
      void contender.close();
      await gc();
      const closing = memory();
      reply.closing = closing.map((bytes, i) => (bytes - before[i]) / m.clients);
      reply.closingMeasuredAfterMs = Date.now() - started;
    }
    if (classesBefore) {
      reply.classes = await classes();
      for (const [name, bytes] of Object.entries(classesBefore)) reply.classes[name] = (reply.classes[name] ?? 0) - bytes;
    }
    process.send(reply);
  });
} else {
  const results = Object.fromEntries(CONTENDERS.map((c) => [c, []]));
  const byClass = Object.fromEntries(CONTENDERS.map((c) => [c, []]));
  const withClasses = process.argv.includes('--classes');
  const closingAfter = [];
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 ? [...CONTENDERS].reverse() : CONTENDERS;
    for (const contender of order) {
      const args = ['server', contender, ...(withClasses && round === 0 ? ['--classes'] : []), ...(EXPIRES ? ['--expires'] : []), ...(CLOSING ? ['--closing'] : [])];
      const child = fork(fileURLToPath(import.meta.url), args, { execArgv: ['--expose-gc'] });
      const [{ port }] = await once(child, 'message');
      const sockets = await connect(port, CLIENTS);
      // Clients that never answer a close frame: their sockets are no longer read.
      if (CLOSING) for (const ws of sockets) ws._socket.pause();
      child.send({ type: 'measure', clients: CLIENTS });
      const [reply] = await once(child, 'message');
      results[contender].push(reply.closing ? [...reply.perConnection, ...reply.closing] : reply.perConnection);
      if (reply.closing) closingAfter.push(reply.closingMeasuredAfterMs);
      if (reply.classes) byClass[contender] = reply.classes;
      for (const ws of sockets) ws.terminate();
      child.kill();
      await once(child, 'exit');
    }
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const [first, baseline] = CONTENDERS;
  const expiry = EXPIRES ? `, every user with expiresAt ${EXPIRES_MS} ms ahead` : '';
  print(`N = ${CLIENTS}, ${ROUNDS} rounds${expiry}, load average ${(await import('node:os')).loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  const measures = ['heap', 'heap + external', ...(CLOSING ? ['closing: heap', 'closing: heap + external'] : [])];
  if (CLOSING) print(`closing measured ${Math.min(...closingAfter)}–${Math.max(...closingAfter)} ms after close() (every socket still closing)`);
  measures.forEach((what, k) => {
    const of = (c) => results[c].map((r) => r[k]);
    print(`${what} per connection:`);
    for (const c of CONTENDERS) print(`  ${c.split('/').pop().padEnd(18)} ${median(of(c)).toFixed(0)} B  [${of(c).map((x) => x.toFixed(0)).join(', ')}]`);
    if (baseline) print(`  ratio ${first} ÷ ${baseline}: ${(median(of(first)) / median(of(baseline))).toFixed(3)}×`);
  });
  if (withClasses && baseline) {
    const names = new Set([...Object.keys(byClass[first]), ...Object.keys(byClass[baseline])]);
    const rows = [...names]
      .map((name) => [name, (byClass[first][name] ?? 0) / CLIENTS, (byClass[baseline][name] ?? 0) / CLIENTS])
      .filter(([, a, b]) => Math.abs(a - b) >= 4)
      .sort((x, y) => Math.abs(y[1] - y[2]) - Math.abs(x[1] - x[2]));
    print(`\nself size per connection by constructor (${first} vs ${baseline}), |difference| ≥ 4 B:`);
    for (const [name, a, b] of rows) print(`${name.slice(0, 60).padEnd(60)} ${a.toFixed(0).padStart(6)} ${b.toFixed(0).padStart(6)} ${(a - b).toFixed(0).padStart(6)}`);
  }
}

/** Opens `count` sockets, 256 at a time. */
async function connect(port, count) {
  const sockets = [];
  let next = 0;
  const one = () =>
    new Promise((resolve, reject) => {
      const i = next++;
      const ws = new WebSocket(`ws://127.0.0.1:${port}${PATH}?token=u${i}:d0`, ['wshub'], { perMessageDeflate: false });
      // The server counts the authorized ones; not every contender sends a welcome.
      ws.once('open', () => resolve(ws));
      ws.once('error', reject);
      sockets.push(ws);
    });
  const worker = async () => {
    while (next < count) await one();
  };
  await Promise.all(Array.from({ length: 256 }, worker));
  return sockets;
}

/** Self size of every live object by constructor name, from a heap snapshot of this process. */
async function classes() {
  const { Session } = await import('node:inspector/promises');
  const session = new Session();
  session.connect();
  const chunks = [];
  session.on('HeapProfiler.addHeapSnapshotChunk', (m) => chunks.push(m.params.chunk));
  await session.post('HeapProfiler.takeHeapSnapshot', { reportProgress: false });
  session.disconnect();
  const snapshot = JSON.parse(chunks.join(''));
  const meta = snapshot.snapshot.meta;
  const [types] = meta.node_types;
  const [edgeTypes] = meta.edge_types;
  const width = meta.node_fields.length;
  const edgeWidth = meta.edge_fields.length;
  const [typeAt, nameAt, sizeAt, countAt] = ['type', 'name', 'self_size', 'edge_count'].map((f) => meta.node_fields.indexOf(f));
  const [edgeTypeAt, edgeNameAt, toAt] = ['type', 'name_or_index', 'to_node'].map((f) => meta.edge_fields.indexOf(f));
  const { nodes, edges, strings } = snapshot;
  const plain = (i) => {
    const type = types[nodes[i + typeAt]];
    const label = strings[nodes[i + nameAt]];
    if (type === 'object') return label;
    if (type === 'closure') return `${label}()`;
    return `(${type})`;
  };
  // With DETAIL, internal objects are named after their first owner: `Owner.edge`.
  const owner = new Map();
  if (process.env.DETAIL) {
    for (let i = 0, e = 0; i < nodes.length; i += width) {
      for (let k = 0; k < nodes[i + countAt]; k++, e += edgeWidth) {
        const to = edges[e + toAt];
        if (owner.has(to) || edgeTypes[edges[e + edgeTypeAt]] === 'weak') continue;
        const edgeType = edgeTypes[edges[e + edgeTypeAt]];
        const edgeName = edgeType === 'element' || edgeType === 'hidden' ? '[]' : String(strings[edges[e + edgeNameAt]]);
        owner.set(to, `${plain(i)}.${edgeName.slice(0, 20)}`);
      }
    }
  }
  const totals = {};
  for (let i = 0; i < nodes.length; i += width) {
    const type = types[nodes[i + typeAt]];
    let name = plain(i);
    if (process.env.DETAIL && ((type !== 'object' && type !== 'closure') || name === 'Object' || name === 'system / Context')) name = `${name} in ${owner.get(i) ?? '?'}`;
    totals[name] = (totals[name] ?? 0) + nodes[i + sizeAt];
  }
  return totals;
}
