/**
 * Raw `ws`, the baseline of scenarios G and H: the same token auth (the
 * same throttled lookup), the same heartbeat (ping every `heartbeatMs`,
 * terminate a socket that missed the previous pong), the wshub subprotocol
 * and its welcome frame (so the same client connects to both), and a
 * broadcast that frames the message once and writes it to every socket.
 * No rooms, no limits, no watch state: the least a server can hold per
 * idle connection.
 *
 * In a `node:cluster` worker (scenario H) a broadcast also goes to the
 * primary, whose `primary()` relays it to the other workers over IPC.
 */
import cluster from 'node:cluster';
import { WebSocketServer } from 'ws';
import { throttledAuth } from '../lib/auth-queue.mjs';
import { textFrame, writeFrame } from './ws-frame.mjs';

const SUBPROTOCOL = 'wshub';
const WELCOME = JSON.stringify({ event: 'wshub:welcome', data: { protocol: 2 } });
const RELAY = 'bench.ws-idle.broadcast';

/** @param {import('./contract.mjs').StartContext} ctx */
export async function start(ctx) {
  const { heartbeatMs = 30_000, authRate = 0 } = ctx.options ?? {};
  const authenticate = throttledAuth(ctx.authenticate, authRate);
  const wss = new WebSocketServer({
    noServer: true,
    clientTracking: false,
    perMessageDeflate: false,
    handleProtocols: (protocols) => (protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
  });
  /** Authorized sockets; `alive` is the heartbeat's mark (a property, as ws's README does it). */
  const sockets = new Set();
  ctx.server.on('upgrade', (req, socket, head) => {
    socket.on('error', () => {});
    if (!req.url?.startsWith(ctx.path)) return socket.destroy();
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('error', () => {});
      Promise.resolve()
        .then(() => authenticate(req))
        .then(
          () => {
            if (ws.readyState !== ws.OPEN) return;
            ws.alive = true;
            ws.on('pong', onPong);
            ws.on('close', onClose);
            sockets.add(ws);
            ws.send(WELCOME);
            ctx.onReady();
          },
          () => ws.close(4403, 'unauthorized'),
        );
    });
  });
  function onPong() {
    this.alive = true;
  }
  function onClose() {
    sockets.delete(this);
  }
  const beat = setInterval(() => {
    for (const ws of sockets) {
      if (!ws.alive) {
        ws.terminate();
        continue;
      }
      ws.alive = false;
      ws.ping();
    }
  }, heartbeatMs);
  beat.unref();

  const local = (text) => {
    const frame = textFrame(text);
    for (const ws of sockets) if (ws.readyState === ws.OPEN) writeFrame(ws, frame);
  };
  if (cluster.isWorker) {
    process.on('message', (m) => {
      if (m?.[RELAY] !== undefined) local(m[RELAY]);
    });
  }
  return {
    deliver: {
      broadcast(event, data) {
        const text = JSON.stringify({ event, data });
        local(text);
        if (cluster.isWorker) process.send({ [RELAY]: text });
      },
    },
    close() {
      clearInterval(beat);
      for (const ws of sockets) ws.terminate();
    },
    stats: () => ({ sockets: sockets.size }),
  };
}

/** In the primary of scenario H: relays each worker's broadcast to the others. */
export function primary() {
  cluster.on('message', (from, m) => {
    if (m?.[RELAY] === undefined) return;
    for (const worker of Object.values(cluster.workers)) if (worker !== from && worker.isConnected()) worker.send(m);
  });
}
