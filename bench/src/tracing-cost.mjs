/**
 * What tracing costs the hub: five setups, interleaved, each run in a
 * fresh process (the OpenTelemetry registry is per process):
 *
 * - `no-api`:  `@opentelemetry/api` cannot be loaded (a preload hides it,
 *              as in an app that does not have it): the hub attempts no span;
 * - `no-provider`: the API is there, no tracer provider registered;
 * - `context`: the SDK's `AsyncLocalStorage` context manager registered and
 *              made to hold a context once (as an app's first traced
 *              request would), no tracer provider: what carrying the context
 *              costs on its own, no span made (on Node 20 and 22 its
 *              `AsyncLocalStorage` runs async hooks from then on);
 * - `sdk`:     the SDK's `BasicTracerProvider` with a `BatchSpanProcessor`
 *              whose exporter drops everything, and the `AsyncLocalStorage`
 *              context manager (what `@opentelemetry/sdk-node` sets up): every
 *              span is made, timed and ended, nothing leaves the process;
 * - `sdk-10%`: the same with `ParentBasedSampler({ root: TraceIdRatioBasedSampler(0.1) })`,
 *              what a busy service runs: one trace in ten is recorded.
 *
 * Two workloads, in the process that runs the hub:
 * - `call`: awaited `sendMessage` calls to a user with no socket (the
 *   cheapest call there is: nearly all of it is the span), ns per call;
 * - `deliver`: `sendMessage` to USERS users with one socket each (raw `ws`
 *   clients in a child process that count what arrives), bursts of 500,
 *   deliveries/s until the last one is counted, and the hub process's
 *   CPU time per delivery (user + system: on a busy machine steadier than
 *   the rate, which waits for the CPU too). Each call is one
 *   `wshub.send` (and, in `sdk`, one span exported).
 *
 *   node bench/src/tracing-cost.mjs [rounds=5] [calls=200000] [sends=40000] [users=1000]
 *   node bench/src/tracing-cost.mjs ... --json      # one JSON line, for the smoke test
 */
import { execFile, fork } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import WebSocket from 'ws';

const SELF = fileURLToPath(import.meta.url);
const HIDE_API = fileURLToPath(new URL('./lib/hide-otel-api.cjs', import.meta.url));
const MODES = ['no-api', 'no-provider', 'context', 'sdk', 'sdk-10%'];
/** The share of traces `sdk-10%` records (a parent-based ratio sampler, as `OTEL_TRACES_SAMPLER=parentbased_traceidratio` sets up). */
const SAMPLED = 0.1;
const DATA = { id: 42, status: 'shipped', note: 'a message of about a hundred bytes of JSON, as a notification is' };

// ------------------------------------------------------------------ clients

if (process.argv[2] === 'clients') {
  let count = 0;
  const sockets = [];
  process.on('message', async (m) => {
    if (m.type === 'connect') {
      for (let i = 0; i < m.users; i++) {
        const ws = new WebSocket(`ws://127.0.0.1:${m.port}/ws?user=u${i}`);
        ws.on('message', () => count++);
        sockets.push(ws);
        await once(ws, 'open');
      }
      process.send({ type: 'connected' });
    } else if (m.type === 'count') {
      process.send({ type: 'count', count });
    } else if (m.type === 'close') {
      for (const ws of sockets) ws.terminate();
      process.exit(0);
    }
  });
}

// ------------------------------------------------------- one setup, one run

async function setUp(mode) {
  if (mode !== 'context' && !mode.startsWith('sdk')) return { exported: () => 0 };
  // Loaded here: under the `no-api` preload, `@opentelemetry/api` cannot be.
  const { setUpContextManager, setUpSdk } = await import('./lib/otel-sdk.mjs');
  if (mode === 'context') {
    setUpContextManager();
    return { exported: () => 0 };
  }
  return setUpSdk({
    sampled: mode === 'sdk-10%' ? SAMPLED : undefined,
    batch: { maxQueueSize: 65_536, maxExportBatchSize: 4096, scheduledDelayMillis: 200 },
  });
}

/** Whether `@opentelemetry/api` resolves here (false under the `no-api` preload). */
function apiInstalled() {
  try {
    createRequire(import.meta.url).resolve('@opentelemetry/api');
    return true;
  } catch {
    return false;
  }
}

/** A `process.cpuUsage()` difference (µs) in ns. */
const cpuNs = ({ user, system }) => (user + system) * 1000;

function ask(child, message, type) {
  return new Promise((resolve) => {
    const on = (m) => {
      if (m.type !== type) return;
      child.off('message', on);
      resolve(m);
    };
    child.on('message', on);
    child.send(message);
  });
}

async function run(mode, calls, sends, users) {
  const otel = await setUp(mode);
  const { WsHub } = await import('@wshub/core');
  const hub = new WsHub({ path: '/ws', authenticate: (req) => ({ id: new URL(req.url, 'http://x').searchParams.get('user'), deviceFingerprint: 'd' }) });
  const server = createServer();
  hub.attach(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const clients = fork(SELF, ['clients'], { execArgv: [] });
  await ask(clients, { type: 'connect', port: server.address().port, users }, 'connected');
  while (hub.stats().users < users) await new Promise((r) => setTimeout(r, 5));

  // call: warm up, then five batches; the median batch.
  const batch = Math.max(1, Math.floor(calls / 5));
  for (let i = 0; i < batch; i++) await hub.sendMessage('nobody', 'e', DATA);
  const perCall = [];
  const callCpu = process.cpuUsage();
  for (let b = 0; b < 5; b++) {
    const started = process.hrtime.bigint();
    for (let i = 0; i < batch; i++) await hub.sendMessage('nobody', 'e', DATA);
    perCall.push(Number(process.hrtime.bigint() - started) / batch);
  }
  const callCpuNs = cpuNs(process.cpuUsage(callCpu)) / (batch * 5);
  perCall.sort((a, b) => a - b);

  // deliver: bursts of 500, yielding between them, until every delivery is counted.
  const before = (await ask(clients, { type: 'count' }, 'count')).count;
  const started = performance.now();
  const deliverCpu = process.cpuUsage();
  for (let i = 0; i < sends; i++) {
    void hub.sendMessage(`u${(i * 7919) % users}`, 'order', DATA);
    if (i % 500 === 499) await new Promise((r) => setImmediate(r));
  }
  const deadline = Date.now() + 120_000;
  for (;;) {
    const got = (await ask(clients, { type: 'count' }, 'count')).count - before;
    if (got >= sends) break;
    if (Date.now() > deadline) throw new Error(`only ${got} of ${sends} deliveries within 120 s`);
    await new Promise((r) => setTimeout(r, 5));
  }
  const deliveriesPerSecond = sends / ((performance.now() - started) / 1000);
  // The hub process's CPU time (user + system) per delivery: on a busy machine steadier than the rate.
  const deliverCpuNs = cpuNs(process.cpuUsage(deliverCpu)) / sends;
  clients.send({ type: 'close' });
  await hub.close();
  server.close();
  return { mode, api: apiInstalled(), callNs: perCall[2], callCpuNs, deliveriesPerSecond, deliverCpuNs, spansExported: await otel.exported() };
}

if (process.argv[2] === 'run') {
  const [mode, calls, sends, users] = [process.argv[3], ...process.argv.slice(4, 7).map(Number)];
  const result = await run(mode, calls, sends, users);
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
}

// ------------------------------------------------------------------ driver

const print = (line) => process.stdout.write(`${line}\n`);
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const range = (values) => ({ median: median(values), min: Math.min(...values), max: Math.max(...values) });

async function main() {
  const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  const json = process.argv.includes('--json');
  const [rounds, calls, sends, users] = [args[0] ?? 5, args[1] ?? 200_000, args[2] ?? 40_000, args[3] ?? 1000].map(Number);
  const samples = Object.fromEntries(MODES.map((m) => [m, []]));
  for (let round = 0; round < rounds; round++) {
    // Interleaved, the order rotated each round, so a busy moment of the machine falls on each in turn.
    const order = MODES.map((_, i) => MODES[(i + round) % MODES.length]);
    for (const mode of order) {
      const execArgv = mode === 'no-api' ? ['--require', HIDE_API] : [];
      const { stdout } = await promisify(execFile)(process.execPath, [...execArgv, SELF, 'run', mode, calls, sends, users].map(String), {
        timeout: 300_000,
      });
      const result = JSON.parse(stdout.trim().split('\n').pop());
      samples[mode].push(result);
      if (!json) {
        print(
          `round ${round + 1} ${mode}: ${result.callNs.toFixed(0)} ns/call (${result.callCpuNs.toFixed(0)} CPU), ${result.deliveriesPerSecond.toFixed(0)} deliveries/s (${result.deliverCpuNs.toFixed(0)} CPU ns each), ${result.spansExported} spans`,
        );
      }
    }
  }
  const summary = Object.fromEntries(
    MODES.map((m) => [
      m,
      {
        callNs: range(samples[m].map((s) => s.callNs)),
        callCpuNs: range(samples[m].map((s) => s.callCpuNs)),
        deliveriesPerSecond: range(samples[m].map((s) => s.deliveriesPerSecond)),
        deliverCpuNs: range(samples[m].map((s) => s.deliverCpuNs)),
        spansExported: range(samples[m].map((s) => s.spansExported)),
        api: samples[m].every((s) => s.api),
      },
    ]),
  );
  const result = { rounds, calls, sends, users, summary, loadavg: loadavg() };
  if (json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  const base = summary['no-api'];
  print(`\n${rounds} rounds, interleaved; median [min–max]; ratio of medians to no-api; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  print('| setup | ns per call (no socket) | × | CPU ns per call | × | deliveries/s (1 socket per user) | × | CPU ns per delivery | × |');
  print('|---|---|---|---|---|---|---|---|---|');
  const cell = (m, key) => {
    const r = summary[m][key];
    return `${r.median.toFixed(0)} [${r.min.toFixed(0)}–${r.max.toFixed(0)}] | ${(r.median / base[key].median).toFixed(2)}`;
  };
  for (const m of MODES) {
    print(`| ${m} | ${cell(m, 'callNs')} | ${cell(m, 'callCpuNs')} | ${cell(m, 'deliveriesPerSecond')} | ${cell(m, 'deliverCpuNs')} |`);
  }
}

if (process.argv[2] !== 'clients' && process.argv[2] !== 'run') await main();
