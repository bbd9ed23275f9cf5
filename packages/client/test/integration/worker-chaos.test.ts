/**
 * Chaos on node:cluster workers: 50 HubClients on two workers (WorkerBroker,
 * the primary's WorkerRelay), a stream of direct, scoped and broadcast
 * messages from one worker, and the other worker killed mid-stream and
 * forked again. The cluster is @wshub/core's test harness
 * (packages/core/test/worker/primary.mjs, on core's build).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { HubClient } from '../../src/index.js';
import { inState } from '../support/wait.js';

const primaryScript = fileURLToPath(new URL('../../../core/test/worker/primary.mjs', import.meta.url));
const USERS = 50;
const ROUNDS = 40;

/** The cluster's primary, driven over IPC. */
class Primary {
  readonly child: ChildProcess;
  private nextId = 0;
  private readonly replies = new Map<number, (m: { result?: unknown; error?: string }) => void>();

  constructor(env: Record<string, string>) {
    this.child = fork(primaryScript, [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], env: { ...process.env, ...env } });
    this.child.on('message', (m: { type: string; id: number; result?: unknown; error?: string }) => {
      if (m.type !== 'reply') return;
      this.replies.get(m.id)?.(m);
      this.replies.delete(m.id);
    });
  }
  command<R>(command: string, args: Record<string, unknown> = {}): Promise<R> {
    const id = this.nextId++;
    return new Promise<R>((resolve, reject) => {
      this.replies.set(id, (m) => (m.error ? reject(new Error(m.error)) : resolve(m.result as R)));
      this.child.send({ id, command, args });
    });
  }
  call<R>(worker: number, method: string, args: Record<string, unknown> = {}): Promise<R> {
    return this.command<R>('call', { worker, method, args });
  }
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.disconnect();
    await exited;
  }
}

/** What one user should get, in order: the worker's `traffic` method, then the end marker. */
function expected(): string[] {
  const out: string[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    out.push(r % 3 === 0 ? `scoped:${r}` : `direct:${r}`);
    if (r % 5 === 0) out.push(`all:${r}`);
  }
  out.push('direct:end');
  return out;
}

type Round = { r: number | string };
interface ChaosEvents {
  direct: Round;
  scoped: Round;
  all: Round;
}

interface Watched {
  userId: string;
  client: HubClient<ChaosEvents>;
  got: string[];
  recovered: boolean[];
  /** When `state` last changed, and the last close, for a failure message. */
  since: number;
  lastClose?: string;
}

const clients: HubClient<ChaosEvents>[] = [];
let primary: Primary | undefined;
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await primary?.stop();
  primary = undefined;
});

async function until(check: () => boolean, what: string, detail?: () => string, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${detail ? `: ${detail()}` : ''}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** One run: connect, stream, kill worker 1 mid-stream, fork another, end marker; what each client got. */
async function run(recovery: boolean): Promise<Watched[]> {
  primary = new Primary(recovery ? { WSHUB_RECOVERY: 'true' } : {});
  const { port } = await primary.command<{ worker: number; port: number }>('fork');
  const { worker: sender } = await primary.command<{ worker: number; port: number }>('fork');
  const url = `ws://127.0.0.1:${port}/api/v1/ws`;
  const watched: Watched[] = [];
  for (let i = 0; i < USERS; i++) {
    const userId = `u${i}`;
    // The harness's workers read the user from the query; the token is not looked at.
    const client = new HubClient<ChaosEvents>(url, {
      WebSocket,
      token: () => 'any',
      query: { user: userId },
      reconnect: { initialDelayMs: 20, maxDelayMs: 200 },
    });
    clients.push(client);
    const w: Watched = { userId, client, got: [], recovered: [], since: Date.now() };
    client.on('state', () => (w.since = Date.now()));
    client.on('close', ({ code, reason }) => (w.lastClose = `${code} ${JSON.stringify(reason)}`));
    const record = (event: keyof ChaosEvents) => (data: Round) => w.got.push(`${event}:${data.r}`);
    client.on('direct', record('direct'));
    client.on('scoped', record('scoped'));
    client.on('all', record('all'));
    client.on('recovered', ({ recovered: ok }) => w.recovered.push(ok));
    client.watch('scoped', 'topic');
    watched.push(w);
  }
  await Promise.all(watched.map((w) => inState(w.client, 'open')));
  // Every watch is in place on the server: a scoped message now reaches each client.
  await primary.call(sender, 'broadcast', { event: 'warm', data: null });
  await new Promise((r) => setTimeout(r, 200));

  const traffic = primary.call(sender, 'traffic', { users: watched.map((w) => w.userId), rounds: ROUNDS, from: 0, gapMs: 25 });
  await new Promise((r) => setTimeout(r, 300));
  await primary.command('kill', { worker: 1 });
  await primary.command('fork');
  await traffic;
  // An attempt the cluster lost (a connection the primary handed to the killed worker is held open,
  // never answered) is given up after the client's connectTimeoutMs (10 s) and retried.
  await until(
    () => watched.every((w) => w.client.state === 'open'),
    'every client to be open again',
    () =>
      watched
        .filter((w) => w.client.state !== 'open')
        .map((w) => `${w.userId} ${w.client.state} for ${Date.now() - w.since} ms (last close ${w.lastClose ?? 'none'})`)
        .join(', '),
  );
  for (const w of watched) await primary.call(sender, 'sendMessage', { userId: w.userId, event: 'direct', data: { r: 'end' } });
  await until(() => watched.every((w) => w.got.includes('direct:end')), 'the end marker on every client');
  return watched;
}

describe('chaos: a worker killed mid-stream, 50 reconnecting clients', () => {
  it('with recovery: every message once and in order, or recovered: false; never a silent gap', async () => {
    const all = expected();
    const watched = await run(true);
    let resumed = 0;
    for (const w of watched) {
      if (w.recovered.length > 0) resumed++;
      if (w.recovered.every(Boolean)) {
        expect(w.got, w.userId).toEqual(all);
      } else {
        // Told: what it got is still each message once, in order.
        expect(new Set(w.got).size, w.userId).toBe(w.got.length);
        const indexes = w.got.map((m) => all.indexOf(m));
        expect(indexes, w.userId).toEqual([...indexes].sort((a, b) => a - b));
      }
    }
    // The clients of the killed worker reconnected and resumed.
    expect(resumed).toBeGreaterThan(0);
  }, 40_000);

  it('without recovery, the same run loses messages without telling', async () => {
    const all = expected();
    const watched = await run(false);
    const lost = watched.reduce((sum, w) => sum + all.filter((m) => !w.got.includes(m)).length, 0);
    expect(lost).toBeGreaterThan(0);
    expect(watched.every((w) => w.recovered.length === 0)).toBe(true);
  }, 40_000);
});

describe('chaos: clients connecting while a worker is killed', () => {
  // The primary hands each new connection to a worker; one handed to the worker just killed is neither
  // answered nor closed (the primary keeps it open). Without connectTimeoutMs such a client stayed
  // 'connecting' for good: with connectTimeoutMs: 0 this failed in 5 of 5 runs, one client stuck so.
  it('every attempt opens, the one the dead worker never took after connectTimeoutMs', async () => {
    primary = new Primary({});
    const { port } = await primary.command<{ worker: number; port: number }>('fork');
    await primary.command('fork');
    const url = `ws://127.0.0.1:${port}/api/v1/ws`;
    let stop = false;
    let opened = 0;
    const notOpen: string[] = [];
    // Ten loops, each: a new client, wait for it to open (or 8 s), close it, again.
    const churn = async (n: number) => {
      for (let k = 0; !stop; k++) {
        const client = new HubClient<ChaosEvents>(url, {
          WebSocket,
          token: () => 'any',
          query: { user: `c${n}-${k}` },
          connectTimeoutMs: 2_000,
          reconnect: { initialDelayMs: 20, maxDelayMs: 200 },
        });
        clients.push(client);
        const ok = await Promise.race([
          inState(client, 'open').then(() => true),
          new Promise<boolean>((r) => setTimeout(() => r(false), 8_000)),
        ]);
        if (ok) opened++;
        else notOpen.push(`c${n}-${k} ${client.state}`);
        await client.close();
      }
    };
    const loops = Array.from({ length: 10 }, (_, n) => churn(n));
    await new Promise((r) => setTimeout(r, 300));
    await primary.command('kill', { worker: 1 });
    await primary.command('fork');
    await new Promise((r) => setTimeout(r, 300));
    stop = true;
    await Promise.all(loops);
    expect(notOpen).toEqual([]);
    expect(opened).toBeGreaterThan(10);
  }, 40_000);
});
