import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { connectTestClient, type TestClient } from '@wshub/testing';
import type { Cluster, Redis } from 'ioredis';
import type { RedisBrokerOptions } from '../src/index.js';

/** The node programs: a plain WsHub, or a NestJS app with WsModule. */
const scripts = {
  hub: fileURLToPath(new URL('./fixtures/hub-node.mjs', import.meta.url)),
  nest: fileURLToPath(new URL('./fixtures/nest-node.mjs', import.meta.url)),
};

/** Options the test nodes use: short timings so faults show within seconds. */
export const FAST: RedisBrokerOptions = {
  nodeHeartbeatMs: 250,
  nodeTtlMs: 1500,
  commandTimeoutMs: 1000,
  probeIntervalMs: 500,
  probeTimeoutMs: 1000,
  reconnectMaxDelayMs: 200,
  bufferFlushDelayMs: 1000,
};

interface Reply {
  id?: number;
  type?: string;
  ok?: boolean;
  result?: unknown;
  error?: string;
  name?: string;
  message?: string;
  ms?: number;
  port?: number;
  nodeId?: string;
}

/** A hub with a RedisBroker in its own process (`fixtures/*-node.mjs`), driven over IPC. */
export class HubProcess {
  private seq = 0;
  private readonly pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  readonly clients: TestClient[] = [];
  /** Set when the child crashed or had an unhandled rejection. */
  fatal: string | undefined;
  port = 0;
  nodeId = '';

  private constructor(
    readonly name: string,
    private readonly child: ChildProcess,
  ) {
    child.on('message', (m: Reply) => {
      if (m.type === 'fatal') {
        this.fatal = m.message;
        return;
      }
      if (m.id === undefined) return;
      const call = this.pending.get(m.id);
      if (!call) return;
      this.pending.delete(m.id);
      if (m.ok) call.resolve(m.result);
      else call.reject(Object.assign(new Error(m.error), { name: m.name ?? 'Error', ms: m.ms }));
    });
    child.on('exit', (code, signal) => {
      for (const call of this.pending.values()) call.reject(new Error(`${name} exited (${code ?? signal})`));
      this.pending.clear();
    });
  }

  /** `hub`: more WsHub options (JSON) and a fixed `port`, for the plain hub node. */
  static async start(
    name: string,
    options: RedisBrokerOptions,
    kind: keyof typeof scripts = 'hub',
    hub: { options?: Record<string, unknown>; port?: number } = {},
  ): Promise<HubProcess> {
    const child = fork(scripts[kind], [], {
      env: {
        ...process.env,
        WSHUB_BROKER_OPTIONS: JSON.stringify(options),
        WSHUB_HUB_OPTIONS: JSON.stringify(hub.options ?? {}),
        ...(hub.port ? { WSHUB_PORT: String(hub.port) } : {}),
      },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const node = new HubProcess(name, child);
    const ready = new Promise<Reply>((resolve, reject) => {
      child.on('message', (m: Reply) => m.type === 'ready' && resolve(m));
      child.once('exit', (code) => reject(new Error(`${name} exited with ${code} before it was ready`)));
    });
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`${name} was not ready within 40 s`)), 40_000).unref(),
    );
    const m = await Promise.race([ready, timeout]).catch((error) => {
      child.kill('SIGKILL');
      throw error;
    });
    node.port = m.port!;
    node.nodeId = m.nodeId!;
    return node;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  call<T = any>(method: string, ...args: unknown[]): Promise<T> {
    if (!this.alive) return Promise.reject(new Error(`${this.name} is not running`));
    const id = ++this.seq;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.child.send({ id, method, args });
    });
  }

  stats(): Promise<{ users: number; broker: Record<string, number>; [k: string]: any }> {
    return this.call('stats');
  }

  /**
   * Connects a client and resolves once this node wrote the user to presence
   * in Redis, which it does only after Redis confirmed the user's channel:
   * from then on, sends from any node reach the client.
   */
  async connect(query: string, redis: Redis | Cluster, prefix = 'wshub'): Promise<TestClient> {
    const client = await this.openSocket(query);
    const user = new URLSearchParams(query).get('user')!;
    const key = `${prefix}:presence:{${this.nodeId}}`;
    await waitUntil(async () => (await redis.hexists(key, user)) === 1, `${user} in presence of ${this.name}`);
    return client;
  }

  /** Connects a client and resolves once this node has authorized it (works while Redis is down). */
  async open(query: string): Promise<TestClient> {
    const client = await this.openSocket(query);
    await client.sync();
    return client;
  }

  /** `query`: `user=<id>&device=<fp>&role=<role>&name=<name>`, as the fixtures authenticate. */
  private async openSocket(query: string): Promise<TestClient> {
    const client = await connectTestClient(`ws://127.0.0.1:${this.port}/api/v1/ws?${query}`);
    this.clients.push(client);
    return client;
  }

  /** Closes the clients opened so far (between tests that share the node). */
  dropClients(): void {
    for (const client of this.clients.splice(0)) client.ws.terminate();
  }

  /** Exits after `hub.close({ drainMs })` (a deploy); resolves once the process is gone. */
  async drain(drainMs: number): Promise<void> {
    if (!this.alive) return;
    const exited = once(this.child, 'exit');
    await this.call('drain', drainMs).catch(() => {});
    const timer = setTimeout(() => this.child.kill('SIGKILL'), drainMs + 5000);
    await exited;
    clearTimeout(timer);
  }

  async kill(): Promise<void> {
    if (!this.alive) return;
    const exited = once(this.child, 'exit');
    this.child.kill('SIGKILL');
    await exited;
  }

  async close(): Promise<void> {
    for (const client of this.clients) client.ws.terminate();
    if (!this.alive) return;
    const exited = once(this.child, 'exit');
    await this.call('close').catch(() => {});
    this.child.disconnect();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
}

/** Polls `check` every 50 ms until it holds; fails after `timeoutMs` naming what was awaited. */
export async function waitUntil(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      if (await check()) return;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
