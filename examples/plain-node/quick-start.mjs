// quick-start.mjs: node quick-start.mjs
import { createServer } from 'node:http';
import { WsHub } from '@wshub/core';

const hub = new WsHub({
  // Who is connecting? Return a user with `id` and `deviceFingerprint`, or throw (→ 4403).
  authenticate(req) {
    const token = new URL(req.url, 'http://localhost').searchParams.get('token');
    if (token !== 'secret') throw new Error('bad token');
    return { id: 'user-1', deviceFingerprint: 'browser', role: 'admin' };
  },
  // May this socket watch this event/scope?
  canWatch: ({ user, event }) => event !== 'order-status' || user.role === 'admin',
});

// Your app sends when something happens; here two requests stand in for that:
//   curl -X POST http://localhost:3000/orders/42/shipped   → user-1's sockets watching order 42
//   curl -X POST http://localhost:3000/announcements       → every connected user
const server = createServer(async (req, res) => {
  const orderId = req.url.match(/^\/orders\/(\d+)\/shipped$/)?.[1];
  if (req.method === 'POST' && orderId) {
    await hub.sendMessage('user-1', 'order-status', { id: Number(orderId), status: 'shipped' }, orderId);
  } else if (req.method === 'POST' && req.url === '/announcements') {
    await hub.push('server-update', { version: '2.0.0' });
  } else {
    return res.writeHead(404).end();
  }
  res.writeHead(202).end();
});
hub.attach(server); // serves ws://localhost:3000/api/v1/ws
server.listen(Number(process.env.PORT ?? 3000), () => {
  process.stdout.write(`listening on http://localhost:${server.address().port}\n`);
});

// Ctrl-C or SIGTERM: clients get 1001 ("server shutting down") and reconnect, rather than 1006.
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => hub.close().then(() => process.exit(0)));
