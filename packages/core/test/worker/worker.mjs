/**
 * A hub worker for the WorkerBroker tests: a WsHub with a WorkerBroker on
 * the port all workers share. Auth: `?user=<id>&device=<fp>&name=<name>`.
 * Each authorized socket first gets `{ event: 'hello', data: { worker } }`,
 * so a test knows which worker holds it. Calls from the primary run hub
 * methods; presence changes are reported to the primary.
 */
import cluster from 'node:cluster';
import { createServer } from 'node:http';

const { WorkerBroker, WsHub } = await import(process.env.WSHUB_CORE_DIST ?? '../../dist/index.js');

const hub = new WsHub({
  authenticate(req) {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const id = url.searchParams.get('user');
    if (!id) throw new Error('no user');
    return { id, deviceFingerprint: url.searchParams.get('device') ?? 'd1', name: url.searchParams.get('name') ?? id };
  },
  // WSHUB_BROKER_OPTIONS: more WorkerBroker options, as JSON.
  broker: new WorkerBroker({ requestTimeoutMs: 3000, ...JSON.parse(process.env.WSHUB_BROKER_OPTIONS ?? '{}') }),
  // WSHUB_RECOVERY: the hub's `recovery` option, as JSON.
  recovery: process.env.WSHUB_RECOVERY ? JSON.parse(process.env.WSHUB_RECOVERY) : undefined,
  // Only protocol v2 sockets see the ids; the tests' plain sockets get the frames they always did.
  // WSHUB_RECEIPTS=off: no receipts, so v2 frames carry no id (the recovery tests compare whole frames).
  receipts: process.env.WSHUB_RECEIPTS === 'off' ? undefined : { undeliveredAfterMs: 400 },
});
/** The receipts events of this worker, as `delivered <id> <device>` / `undelivered <id> <user>`. */
const receiptsLog = [];
hub.on('delivered', (e) => receiptsLog.push(`delivered ${e.id} ${e.deviceFingerprint}`));
hub.on('undelivered', (e) => receiptsLog.push(`undelivered ${e.id} ${e.userId}`));
/**
 * userId → when its latest socket here was ready, on the machine's monotonic
 * clock (process.hrtime, the same clock in every process), to compare with
 * another worker's `streamTimed`.
 */
const readyAt = new Map();
hub.on('ready', ({ socket, user }) => {
  readyAt.set(user.id, process.hrtime.bigint());
  socket.send(JSON.stringify({ event: 'hello', data: { worker: cluster.worker.id } }));
});
/** When each send of the latest `streamTimed` was made, on the same clock. */
let sentAt = [];
let streaming = false;
hub.on('presence', (change) => process.send({ type: 'presence', ...change }));
hub.on('error', (error) => process.send({ type: 'error', message: error.message }));

/** Set by `startTracing`. */
let exporter;

const methods = {
  sendMessage: ({ userId, event, data, id }) => hub.sendMessage(userId, event, data, undefined, id === undefined ? undefined : { id }),
  async push({ event }) {
    const allowed = [];
    await hub.push(
      event,
      (user) => ({ name: user.name, from: cluster.worker.id }),
      (user) => {
        allowed.push(user.id);
        return true;
      },
    );
    return allowed;
  },
  broadcast: ({ event, data, id }) => hub.push(event, data, null, undefined, id === undefined ? undefined : { id }),
  // sendMessage to `userId` for `ms`, yielding to I/O every 20 sends; how many were sent.
  async stream({ userId, ms }) {
    const end = Date.now() + ms;
    let sent = 0;
    while (Date.now() < end) {
      await hub.sendMessage(userId, 'tick', sent++);
      if (sent % 20 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    return sent;
  },
  // As `stream`, until `stopStream` (or `ms`), noting when each send was made (see `sentAfter`).
  async streamTimed({ userId, ms }) {
    sentAt = [];
    streaming = true;
    const end = Date.now() + ms;
    while (streaming && Date.now() < end) {
      sentAt.push(process.hrtime.bigint());
      await hub.sendMessage(userId, 'tick', sentAt.length - 1);
      if (sentAt.length % 20 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    return sentAt.length;
  },
  stopStream() {
    streaming = false;
  },
  // When `userId`'s latest socket on this worker was ready.
  readyAt: ({ userId }) => String(readyAt.get(userId)),
  // The first send of the latest `streamTimed` made after `at` (a `readyAt` of another worker).
  sentAfter: ({ at }) => {
    const i = sentAt.findIndex((t) => t > BigInt(at));
    return i === -1 ? sentAt.length : i;
  },
  // `count` sendMessage calls to `userId`, awaited in turn.
  async sendMany({ userId, count }) {
    for (let i = 0; i < count; i++) await hub.sendMessage(userId, 'n', i);
    return count;
  },
  // sendMessage to `count` distinct users `<prefix><i>` of `bytes` each; the heap after.
  async spray({ prefix, count, bytes }) {
    const body = 'x'.repeat(bytes);
    for (let i = 0; i < count; i++) await hub.sendMessage(`${prefix}${i}`, 'spray', { i, body });
    return process.memoryUsage();
  },
  // The chaos test's traffic: per round, a message to each user (scoped every third), and a broadcast every fifth round.
  async traffic({ users, rounds, from, gapMs }) {
    for (let r = from; r < from + rounds; r++) {
      for (const userId of users) {
        if (r % 3 === 0) await hub.sendMessage(userId, 'scoped', { r, userId }, 'topic');
        else await hub.sendMessage(userId, 'direct', { r, userId });
      }
      if (r % 5 === 0) await hub.push('all', { r });
      await new Promise((resolve) => setTimeout(resolve, gapMs));
    }
    return null;
  },
  disconnect: ({ userId, device }) => hub.disconnect(userId, device),
  receipts: () => [...receiptsLog],
  updateUser: ({ user }) => hub.updateUser(user),
  onlineUsers: async () => (await hub.onlineUsers()).sort(),
  isOnline: ({ userId }) => hub.isOnline(userId),
  // An app's await loop of `count` sends of `bytes` each to `userId`; what it saw.
  async flood({ userId, count, bytes }) {
    const body = 'x'.repeat(bytes);
    const started = Date.now();
    const errors = [];
    let peakHeap = 0;
    let peakQueued = 0;
    for (let i = 0; i < count; i++) {
      try {
        await hub.sendMessage(userId, 'flood', { i, body });
      } catch (error) {
        if (errors.length < 5) errors.push(error.message);
      }
      if (i % 500 === 0) {
        peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
        peakQueued = Math.max(peakQueued, hub.stats().broker.queuedBytes ?? 0);
      }
    }
    return { ms: Date.now() - started, errors, peakHeapMb: peakHeap / 2 ** 20, peakQueued };
  },
  // An app that does not await: `count` sends of `bytes` each in one turn; how many were refused, and why.
  // `via: 'push'` pushes to every user instead.
  async burst({ userId, count, bytes, via }) {
    const body = 'x'.repeat(bytes);
    const refused = [];
    const sends = [];
    for (let i = 0; i < count; i++) {
      const sent = via === 'push' ? hub.push('flood', { i, body }) : hub.sendMessage(userId, 'flood', { i, body });
      sends.push(sent.catch((error) => refused.push(`${error.name}: ${error.message}`)));
    }
    await Promise.all(sends);
    return { refused: refused.length, first: refused[0] };
  },
  // Registers an OpenTelemetry tracer provider with an in-memory exporter: the hub follows one registered after it.
  async startTracing() {
    const { context, trace } = await import('@opentelemetry/api');
    const { AsyncLocalStorageContextManager } = await import('@opentelemetry/context-async-hooks');
    const { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } = await import('@opentelemetry/sdk-trace-base');
    exporter = new InMemorySpanExporter();
    trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  },
  // sendMessage inside an app span (as an HTTP request's); that span's ids.
  async tracedSend({ userId, event, data }) {
    const { trace } = await import('@opentelemetry/api');
    return trace.getTracer('app').startActiveSpan('POST /send', async (span) => {
      await hub.sendMessage(userId, event, data);
      span.end();
      return span.spanContext();
    });
  },
  spans: () =>
    exporter.getFinishedSpans().map((s) => ({
      name: s.name,
      kind: s.kind,
      traceId: s.spanContext().traceId,
      spanId: s.spanContext().spanId,
      parentSpanId: s.parentSpanContext?.spanId,
      attributes: s.attributes,
    })),
  memory: () => process.memoryUsage(),
  localNames: ({ userId }) => hub.socketsOf(userId).map((socket) => socket.user.name),
  stats: () => hub.stats(),
};

process.on('message', async (message) => {
  if (message?.type !== 'call') return;
  try {
    const result = await methods[message.method](message.args ?? {});
    process.send({ type: 'reply', id: message.id, result: result ?? null });
  } catch (error) {
    process.send({ type: 'reply', id: message.id, error: String(error?.message ?? error) });
  }
});

const server = createServer((_req, res) => {
  res.statusCode = 404;
  res.end();
});
hub.attach(server);
// Port 0 in a cluster: the primary picks one port and every worker shares it.
server.listen(Number(process.env.WSHUB_TEST_PORT ?? 0), '127.0.0.1');
