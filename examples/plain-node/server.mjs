// A plain Node.js server on WsHub: token auth, a watch rule, and two HTTP
// endpoints that deliver notifications. Run: npm run start --workspace examples/plain-node
import { createServer } from 'node:http';
import { WsHub } from '@wshub/core';

/** Demo tokens. A real app verifies a session cookie or a signed token. */
const users = {
  'alice-token': { id: 'alice', name: 'Alice', role: 'admin' },
  'bob-token': { id: 'bob', name: 'Bob', role: 'user' },
};
/** Which user owns which order. */
const orderOwners = { 1: 'alice', 2: 'bob', 42: 'bob' };

export function createApp() {
  const hub = new WsHub({
    authenticate(req) {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const user = users[url.searchParams.get('token') ?? ''];
      if (!user) throw new Error('unknown token');
      return { ...user, deviceFingerprint: url.searchParams.get('device') ?? 'browser' };
    },
    // Users may watch their own orders; admins may watch every order.
    canWatch: ({ user, event, payload }) =>
      event !== 'order-status' || user.role === 'admin' || (payload !== null && orderOwners[payload] === user.id),
  });

  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const status = url.pathname.match(/^\/orders\/(\d+)\/status$/);
    if (req.method === 'POST' && status) {
      const orderId = Number(status[1]);
      const owner = orderOwners[orderId];
      if (!owner) return send(res, 404, { error: `order ${orderId} does not exist` });
      const next = url.searchParams.get('status') ?? 'shipped';
      // Delivered only to the owner's sockets watching this order (or every order).
      await hub.sendMessage(owner, 'order-status', { orderId, status: next }, orderId);
      return send(res, 202, { delivered: true });
    }
    if (req.method === 'POST' && url.pathname === '/announcements') {
      await hub.push('announcement', { text: url.searchParams.get('text') ?? 'Maintenance in 10 minutes' });
      return send(res, 202, { delivered: true });
    }
    if (req.method === 'GET' && url.pathname === '/stats') return send(res, 200, hub.stats());
    send(res, 404, { error: 'not found' });
  });
  hub.attach(server);
  return { hub, server };
}

function send(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { hub, server } = createApp();
  const port = Number(process.env.PORT ?? 3001);
  server.listen(port, () => {
    process.stdout.write(
      [
        `wshub plain-node example on http://localhost:${port}`,
        `  connect:  ws://localhost:${port}${hub.path}?token=bob-token`,
        `  watch:    {"event":"watch","data":{"event":"order-status","payload":"42"}}`,
        `  trigger:  curl -X POST 'http://localhost:${port}/orders/42/status?status=shipped'`,
        `  push:     curl -X POST 'http://localhost:${port}/announcements?text=hello'`,
        '',
      ].join('\n'),
    );
  });
  const stop = () => hub.close().then(() => server.close(() => process.exit(0)));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
