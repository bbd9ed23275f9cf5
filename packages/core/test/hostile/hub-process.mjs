// A hub in a child process of its own, for the hostile-input suite: the test
// attacks it over real sockets and asks it, over IPC, for its heap after GC.
// Run with --expose-gc and a small --max-old-space-size. The scenario comes
// as JSON in WSHUB_SCENARIO:
//   { options?: HubOptions (no functions), canWatchMs?: number | 'never',
//     throwingDisconnectHandler?: boolean, pushTimeoutMs?: number }
// Auth: `?user=<id>` is that user; `?user=bad` is refused; `?user=hang` never settles.
import { createServer } from 'node:http';
const { WsHub } = await import(process.env.WSHUB_CORE_DIST ?? '../../dist/index.js');

const scenario = JSON.parse(process.env.WSHUB_SCENARIO ?? '{}');
const errors = {};
let disconnectsSeen = 0;

const never = new Promise(() => {});
const hub = new WsHub({
  ...scenario.options,
  authenticate(req) {
    const id = new URL(req.url ?? '/', 'http://localhost').searchParams.get('user');
    if (id === 'hang') return never;
    if (!id || id === 'bad') throw new Error('refused');
    return { id, deviceFingerprint: 'device' };
  },
  canWatch:
    scenario.canWatchMs === undefined
      ? undefined
      : () =>
          scenario.canWatchMs === 'never'
            ? never
            : new Promise((resolve) => setTimeout(() => resolve(true), scenario.canWatchMs)),
});
hub.on('error', (error) => {
  errors[error.source] = (errors[error.source] ?? 0) + 1;
});
if (scenario.throwingDisconnectHandler) {
  hub.on('disconnected', () => {
    throw new Error('a handler that throws');
  });
}
hub.on('disconnected', () => {
  disconnectsSeen++;
});

const server = createServer((_req, res) => {
  res.statusCode = 404;
  res.end();
});
hub.attach(server);
server.listen(0, '127.0.0.1', () => process.send({ type: 'listening', port: server.address().port }));

function memory() {
  globalThis.gc();
  globalThis.gc();
  const m = process.memoryUsage();
  return { heapUsed: m.heapUsed, arrayBuffers: m.arrayBuffers, rss: m.rss };
}

const commands = {
  memory: () => memory(),
  stats: () => ({ ...hub.stats(), errors, disconnectsSeen }),
  send: ({ userId, event, data, bytes }) =>
    hub.sendMessage(userId, event, bytes ? 'x'.repeat(bytes) : data).then(
      () => ({ ok: true }),
      (error) => ({ ok: false, name: error.name, message: error.message }),
    ),
  // `count` messages of `bytes` each to one user, each awaited: all in one event-loop turn.
  sendLoop: async ({ userId, event, count, bytes }) => {
    const body = 'x'.repeat(bytes);
    for (let i = 0; i < count; i++) await hub.sendMessage(userId, event, body);
    return { ok: true };
  },
  // One message of `bytes` to each of `count` users `<prefix><i>`, yielding to the event loop every 1000.
  sendMany: async ({ prefix, count, bytes }) => {
    const body = 'z'.repeat(bytes);
    const started = Date.now();
    for (let i = 0; i < count; i++) {
      await hub.sendMessage(`${prefix}${i}`, 'n', body);
      if (i % 1000 === 999) await new Promise((resolve) => setImmediate(resolve));
    }
    return { ms: Date.now() - started };
  },
  // `count` pushes of `bytes` each to everyone, in one tick.
  burst: ({ count, bytes }) => {
    const body = 'y'.repeat(bytes);
    for (let i = 0; i < count; i++) void hub.push('burst', { i, body });
    return { ok: true };
  },
  // A push whose allow callback never settles except for `allowUser`.
  pushHang: async ({ allowUser }) => {
    const started = Date.now();
    await hub.push('hello', { to: allowUser }, (user) => (user.id === allowUser ? Promise.resolve(true) : never));
    return { ms: Date.now() - started };
  },
  close: async () => {
    const started = Date.now();
    await hub.close();
    return { ms: Date.now() - started, disconnectsSeen };
  },
};

process.on('message', async ({ id, command, args }) => {
  try {
    const result = await commands[command](args ?? {});
    process.send({ type: 'reply', id, result });
  } catch (error) {
    process.send({ type: 'reply', id, error: String(error?.stack ?? error) });
  }
});
