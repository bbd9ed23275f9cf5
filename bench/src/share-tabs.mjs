/**
 * What sharing one socket across a browser's tabs (`@wshub/client`'s
 * `share`) saves the server: USERS users with TABS tabs each, as TABS
 * sockets per user (no sharing) or one (shared), every tab watching its
 * own event and one the tabs have in common. Measures the hub's memory
 * (after a full GC) and its CPU over heartbeat rounds while idle, and the
 * frames a per-user message costs.
 *
 *   node --expose-gc bench/src/share-tabs.mjs [users=1000] [tabs=5]
 *
 * The hub runs in a child process; the sockets are raw `ws` clients in this
 * one (a shared socket is what the server sees of one browser either way).
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import { WsHub } from '@wshub/core';
import { WebSocket } from 'ws';

const HEARTBEAT_MS = 1000;
const ROUNDS = 5;

if (process.argv[2] === 'hub') {
  const hub = new WsHub({
    authenticate: (request) => {
      const user = new URL(request.url ?? '/', 'http://x').searchParams.get('user');
      if (!user) throw new Error('no user');
      return { id: user, deviceFingerprint: 'bench' };
    },
    heartbeatMs: HEARTBEAT_MS,
    limits: { maxSocketsPerUser: 1000 },
  });
  const server = createServer();
  hub.attach(server);
  server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
  process.on('message', async (message) => {
    if (message === 'memory') {
      globalThis.gc?.();
      const { rss, heapUsed } = process.memoryUsage();
      process.send({ rss, heapUsed, stats: hub.stats() });
    } else if (message === 'cpu') {
      const start = process.cpuUsage();
      await new Promise((resolve) => setTimeout(resolve, HEARTBEAT_MS * ROUNDS));
      const { user, system } = process.cpuUsage(start);
      process.send({ cpuMs: (user + system) / 1000 });
    } else if (message === 'send') {
      const start = hub.stats().messagesOut ?? 0;
      for (let u = 0; u < Number(process.env.USERS); u++) await hub.sendMessage(`user-${u}`, 'notice', { n: u });
      process.send({ frames: (hub.stats().messagesOut ?? 0) - start });
    }
  });
} else {
  const users = Number(process.argv[2] ?? 1000);
  const tabs = Number(process.argv[3] ?? 5);
  const rows = [];
  for (const [name, socketsPerUser] of [
    ['one socket per tab', tabs],
    ['share: one per browser', 1],
  ]) {
    const child = fork(fileURLToPath(import.meta.url), ['hub'], {
      execArgv: ['--expose-gc'],
      env: { ...process.env, USERS: String(users) },
    });
    const ask = async (message) => {
      child.send(message);
      const [answer] = await once(child, 'message');
      return answer;
    };
    process.on('exit', () => child.kill());
    const [{ port }] = await once(child, 'message');
    const before = await ask('memory');
    const sockets = [];
    for (let u = 0; u < users; u++) {
      for (let t = 0; t < socketsPerUser; t++) {
        const socket = new WebSocket(`ws://127.0.0.1:${port}/api/v1/ws?user=user-${u}`, ['wshub']);
        sockets.push(
          once(socket, 'open').then(() => {
            // The watches of every tab this socket carries.
            const tabsHere = socketsPerUser === 1 ? tabs : 1;
            let id = 1;
            for (let k = 0; k < tabsHere; k++) {
              socket.send(JSON.stringify({ event: 'watch', id: id++, data: { event: `tab-${t + k}`, payload: null } }));
            }
            socket.send(JSON.stringify({ event: 'watch', id: id++, data: { event: 'order', payload: String(u) } }));
            return socket;
          }),
        );
        // Bounded concurrency of handshakes: the hub's pending limit stays far.
        if (sockets.length % 200 === 0) await Promise.all(sockets.slice(-200));
      }
    }
    const open = await Promise.all(sockets);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const after = await ask('memory');
    const { cpuMs } = await ask('cpu');
    const { frames } = await ask('send');
    rows.push({
      name,
      sockets: open.length,
      heapMiB: ((after.heapUsed - before.heapUsed) / 2 ** 20).toFixed(1),
      rssMiB: ((after.rss - before.rss) / 2 ** 20).toFixed(1),
      idleCpuMsPerHeartbeat: (cpuMs / ROUNDS).toFixed(1),
      framesPerUserMessage: (frames / users).toFixed(1),
    });
    for (const socket of open) socket.terminate();
    child.kill();
  }
  const header = `| ${users} users × ${tabs} tabs | sockets | hub heap (MiB) | hub RSS (MiB) | hub CPU per heartbeat, idle (ms) | frames per message to a user |`;
  const lines = [header, '|---|---|---|---|---|---|'];
  for (const r of rows) {
    lines.push(`| ${r.name} | ${r.sockets} | ${r.heapMiB} | ${r.rssMiB} | ${r.idleCpuMsPerHeartbeat} | ${r.framesPerUserMessage} |`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}
