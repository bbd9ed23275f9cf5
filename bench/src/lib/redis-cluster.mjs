/**
 * A private Redis Cluster for scenario I: `masters` redis-servers in
 * cluster mode on free 127.0.0.1 ports, no replicas, no persistence, no
 * pub/sub output-buffer limit (as lib/redis.mjs). The slots are split
 * evenly as `redis-cli --cluster create` splits them, assigned with
 * `CLUSTER ADDSLOTSRANGE` and joined with `CLUSTER MEET`, so one master
 * works too (`--cluster create` wants three). `stop()` kills the servers
 * and removes their files.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { sleep } from './clock.mjs';
import { ping } from './redis.mjs';

const run = promisify(execFile);
const SLOTS = 16384;

/** `redis-cli -p <port> <args>`, its output as text. */
export async function redisCli(port, ...args) {
  const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 10_000 });
  return stdout;
}

export async function startRedisCluster(masters) {
  const ports = [];
  while (ports.length < 2 * masters) {
    const port = await freePort();
    if (!ports.includes(port)) ports.push(port);
  }
  const dir = mkdtempSync(join(tmpdir(), 'wshub-bench-cluster-'));
  const procs = [];
  const stop = () => {
    for (const proc of procs) proc.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < masters; i++) {
      const port = ports[i];
      const proc = spawn(
        'redis-server',
        [
          '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
          '--client-output-buffer-limit', 'pubsub 0 0 0',
          '--cluster-enabled', 'yes', '--cluster-port', String(ports[masters + i]), '--cluster-announce-ip', '127.0.0.1',
          '--cluster-config-file', join(dir, `nodes-${port}.conf`), '--dir', dir,
        ],
        { stdio: 'ignore' },
      );
      procs.push(proc);
      const failed = new Promise((_, reject) => proc.once('error', reject));
      failed.catch(() => {});
      const deadline = Date.now() + 5000;
      while (!(await Promise.race([ping(port), failed]))) {
        if (Date.now() > deadline) throw new Error(`redis-server did not answer on port ${port}`);
        await sleep(50);
      }
    }
    for (let i = 0; i < masters; i++) {
      const from = Math.floor((i * SLOTS) / masters);
      const to = Math.floor(((i + 1) * SLOTS) / masters) - 1;
      await redisCli(ports[i], 'CLUSTER', 'ADDSLOTSRANGE', String(from), String(to));
      if (i > 0) await redisCli(ports[i], 'CLUSTER', 'MEET', '127.0.0.1', String(ports[0]), String(ports[masters]));
    }
    const deadline = Date.now() + 30_000;
    for (;;) {
      const infos = await Promise.all(ports.slice(0, masters).map((p) => redisCli(p, 'CLUSTER', 'INFO').catch(() => '')));
      if (infos.every((info) => /cluster_state:ok/.test(info) && new RegExp(`cluster_known_nodes:${masters}\\b`).test(info))) break;
      if (Date.now() > deadline) {
        throw new Error(`the Redis Cluster of ${masters} masters was not ok within 30 s: ${infos.map((i) => i.split('\n').slice(0, 6).join(' ')).join(' | ')}`);
      }
      await sleep(100);
    }
  } catch (error) {
    stop();
    throw error;
  }
  return { nodes: ports.slice(0, masters).map((port) => ({ host: '127.0.0.1', port })), stop };
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}
