import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

/** Why the Redis suites cannot run here, or `undefined` when `redis-server` and `redis-cli` (for the cluster) are on PATH. */
export const redisMissing: string | undefined = (() => {
  for (const program of ['redis-server', 'redis-cli']) {
    const probe = spawnSync(program, ['--version'], { encoding: 'utf8' });
    if (probe.error || probe.status !== 0) return `${program} not found on PATH`;
  }
  return undefined;
})();

/** The one line a skipped suite prints; under `CI` a missing server is a failure instead. */
export function redisSkipReason(): string | undefined {
  if (!redisMissing) return undefined;
  if (process.env.CI) throw new Error(`${redisMissing}: the Redis tests must run under CI (install Debian's redis-server)`);
  return `${redisMissing}: Redis tests skipped (install redis-server to run them)`;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A real `redis-server` on a free port, without persistence, that tests can kill and start again on the same port. */
export class RedisServer {
  private child: ChildProcess | undefined;

  private constructor(
    readonly port: number,
    private readonly extraArgs: string[] = [],
  ) {}

  /** `extraArgs`: more `redis-server` arguments, e.g. for cluster mode. */
  static async start(port?: number, extraArgs: string[] = []): Promise<RedisServer> {
    const server = new RedisServer(port ?? (await freePort()), extraArgs);
    await server.start();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  /** Starts (again) on the same port, empty, and resolves once it answers PING. */
  async start(): Promise<void> {
    if (this.child) return;
    const child = spawn(
      'redis-server',
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--loglevel',
        'warning',
        ...this.extraArgs,
      ],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    this.child = child;
    child.once('exit', () => {
      if (this.child === child) this.child = undefined;
    });
    const deadline = Date.now() + 10_000;
    while (!(await ping(this.port))) {
      if (!this.child) throw new Error(`redis-server on port ${this.port} exited at start`);
      if (Date.now() > deadline) throw new Error(`redis-server on port ${this.port} did not answer within 10 s`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Kills the server at once (SIGKILL: no goodbye to clients) and waits for it to be gone. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  }
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    // A server with a password answers too, with a refusal.
    socket.once('data', (data) => done(/^(\+PONG|-NOAUTH)/.test(data.toString())));
  });
}

/** `n` distinct free ports. */
async function freePorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await freePort());
  return [...ports];
}

const execFileAsync = promisify(execFile);

/** `redis-cli -p <port> <args>`, its output as text. */
export async function redisCli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await execFileAsync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 30_000 });
  return stdout;
}

/**
 * A real Redis Cluster of `redis-server` processes on free ports (3 masters,
 * one replica each by default), created with `redis-cli --cluster create`,
 * removed with its files by `close()`. Short `cluster-node-timeout` so a
 * killed master's replica takes over within a few seconds;
 * `cluster-require-full-coverage no` so the other shards keep serving while
 * one fails over.
 */
export class RedisCluster {
  private constructor(
    readonly servers: RedisServer[],
    private readonly dir: string,
  ) {}

  static async start(masters = 3, replicas = 1, nodeTimeoutMs = 1000): Promise<RedisCluster> {
    const count = masters * (1 + replicas);
    const ports = await freePorts(2 * count);
    const dir = mkdtempSync(join(tmpdir(), 'wshub-redis-cluster-'));
    const servers = await Promise.all(
      Array.from({ length: count }, (_, i) =>
        RedisServer.start(ports[i], [
          '--cluster-enabled',
          'yes',
          '--cluster-port',
          String(ports[count + i]),
          '--cluster-config-file',
          join(dir, `nodes-${ports[i]}.conf`),
          '--cluster-node-timeout',
          String(nodeTimeoutMs),
          '--cluster-require-full-coverage',
          'no',
          // A replica syncs at once (not 5 s later): one that never synced is never promoted.
          '--repl-diskless-sync-delay',
          '0',
          '--dir',
          dir,
        ]),
      ),
    );
    const cluster = new RedisCluster(servers, dir);
    try {
      await execFileAsync(
        'redis-cli',
        ['--cluster', 'create', ...servers.map((s) => `127.0.0.1:${s.port}`), '--cluster-replicas', String(replicas), '--cluster-yes'],
        { timeout: 60_000 },
      );
      await cluster.waitUntilOk();
    } catch (error) {
      await cluster.close();
      throw error;
    }
    return cluster;
  }

  /** Startup nodes for a client: every server. */
  get nodes(): Array<{ host: string; port: number }> {
    return this.servers.map((s) => ({ host: '127.0.0.1', port: s.port }));
  }

  /** Resolves once every running node reports `cluster_state:ok` and agrees on one master per slot range. */
  async waitUntilOk(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const states = await Promise.all(
        this.servers.filter((s) => s.running).map((s) => redisCli(s.port, 'CLUSTER', 'INFO').catch(() => '')),
      );
      if (states.every((info) => /cluster_state:ok/.test(info) && /cluster_slots_ok:16384/.test(info))) return;
      if (Date.now() > deadline) throw new Error(`the Redis Cluster was not ok within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /**
   * Resolves once every running replica has its master's data
   * (`master_link_status:up`): a replica still waiting for its first sync
   * is never promoted.
   */
  async waitUntilSynced(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const infos = await Promise.all(
        this.servers.filter((s) => s.running).map((s) => redisCli(s.port, 'INFO', 'replication').catch(() => '')),
      );
      if (infos.every((info) => !/role:slave/.test(info) || /master_link_status:up/.test(info))) return;
      if (Date.now() > deadline) throw new Error(`the Redis Cluster's replicas were not synced within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** The ports of the masters that serve slots, and the slot ranges of each, as a running node sees them. */
  async masters(): Promise<Map<number, Array<[number, number]>>> {
    const any = this.servers.find((s) => s.running)!;
    const out = new Map<number, Array<[number, number]>>();
    for (const line of (await redisCli(any.port, 'CLUSTER', 'NODES')).trim().split('\n')) {
      const [, address, flags, , , , , , ...slots] = line.split(' ');
      if (!flags!.includes('master') || flags!.includes('fail') || slots.length === 0) continue;
      const port = Number(address!.split('@')[0]!.split(':')[1]);
      out.set(
        port,
        slots.filter((range) => !range.startsWith('[')).map((range) => {
          const [from, to] = range.split('-').map(Number);
          return [from!, to ?? from!];
        }),
      );
    }
    return out;
  }

  server(port: number): RedisServer {
    return this.servers.find((s) => s.port === port)!;
  }

  async close(): Promise<void> {
    await Promise.all(this.servers.map((s) => s.kill()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
