/**
 * Attacks on the node:cluster path (WorkerBroker + WorkerRelay): the primary
 * (test/worker/primary.mjs) and its workers run in child processes with a
 * small heap each. One worker's app floods another worker's user; the test
 * checks what the relay promises: every process lives, memory stays
 * bounded, a control user on a third worker is served throughout with a
 * bounded delay, and no message is lost silently.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { TestSocket } from '../helpers.js';

const script = fileURLToPath(new URL('../worker/primary.mjs', import.meta.url));
const dist = process.env.WSHUB_CORE_DIST ?? fileURLToPath(new URL('../../dist/index.js', import.meta.url));

/** The old space each process of the cluster may use. */
const HEAP_LIMIT_MB = 128;
const MiB = 2 ** 20;

interface Forked {
  worker: number;
  port: number;
  pid: number;
}

/** A node:cluster primary with a WorkerRelay, driven over IPC. */
class ClusterProcess {
  readonly child: ChildProcess;
  exit: { code: number | null; signal: string | null } | undefined;
  /** Workers that exited, as `<id>:<code or signal>`. */
  readonly workerExits: string[] = [];
  stderr = '';
  private nextId = 0;
  private readonly replies = new Map<number, (m: { result?: unknown; error?: string }) => void>();

  constructor(brokerOptions: Record<string, unknown> = {}) {
    if (!existsSync(dist)) throw new Error('packages/core/dist is missing: run `npm run build` first');
    const heap = `--max-old-space-size=${HEAP_LIMIT_MB}`;
    this.child = fork(script, [], {
      execArgv: [heap],
      env: { ...process.env, WSHUB_WORKER_ARGS: heap, WSHUB_BROKER_OPTIONS: JSON.stringify(brokerOptions) },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    this.child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-4000);
    });
    type Message = { type: string; id?: number; worker?: number; code?: number; signal?: string; result?: unknown; error?: string };
    this.child.on('message', (m: Message) => {
      if (m.type === 'reply' && m.id !== undefined) {
        this.replies.get(m.id)?.(m);
        this.replies.delete(m.id);
      } else if (m.type === 'exit') this.workerExits.push(`${m.worker}:${m.code ?? m.signal}`);
    });
    this.child.on('exit', (code, signal) => {
      this.exit = { code, signal };
      for (const reply of this.replies.values()) reply({ error: `the primary exited (${code ?? signal}): ${this.stderr}` });
      this.replies.clear();
    });
  }

  command<R>(command: string, args: Record<string, unknown> = {}): Promise<R> {
    if (this.exit) return Promise.reject(new Error(`the primary is gone (${this.exit.code ?? this.exit.signal}): ${this.stderr}`));
    const id = this.nextId++;
    return new Promise<R>((resolve, reject) => {
      this.replies.set(id, (m) => (m.error ? reject(new Error(m.error)) : resolve(m.result as R)));
      this.child.send({ id, command, args });
    });
  }

  call<R>(worker: number, method: string, args: Record<string, unknown> = {}): Promise<R> {
    return this.command<R>('call', { worker, method, args });
  }
}

/** A user that counts the flood's messages (and checks their order) without keeping them. */
class FloodReceiver {
  readonly ws: WebSocket;
  readonly worker: Promise<number>;
  count = 0;
  /** Messages whose number was not one more than the one before. */
  outOfOrder = 0;
  private expected = 0;

  constructor(url: string) {
    this.ws = new WebSocket(url);
    this.ws.on('error', () => {});
    this.worker = new Promise((resolve, reject) => {
      this.ws.once('close', () => reject(new Error('the receiver closed before its hello')));
      this.ws.on('message', (data) => {
        const m = JSON.parse(data.toString()) as { event: string; data: { worker: number; i: number } };
        if (m.event === 'hello') resolve(m.data.worker);
        else if (m.event === 'flood') {
          if (m.data.i !== this.expected) this.outOfOrder++;
          this.expected = m.data.i + 1;
          this.count++;
        }
      });
    });
  }
}

let clusters: ClusterProcess[] = [];
let sockets: Array<{ ws: WebSocket }> = [];

afterEach(() => {
  for (const s of sockets) s.ws.terminate();
  sockets = [];
  for (const c of clusters) c.child.kill('SIGKILL');
  clusters = [];
});

async function until(check: () => boolean, what: string, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

interface Flood {
  cluster: ClusterProcess;
  workers: Forked[];
  /** The user the flood goes to, and its worker. */
  target: FloodReceiver;
  receiver: Forked;
  /** A well-behaved user on a third worker. */
  control: TestSocket;
  /** The worker whose app floods. */
  sender: Forked;
}

/** A cluster of three workers: the flood's target on one, the control user on another, the sender the third. */
async function threeWorkers(): Promise<Flood> {
  const cluster = new ClusterProcess();
  clusters.push(cluster);
  const workers: Forked[] = [];
  for (let i = 0; i < 3; i++) workers.push(await cluster.command<Forked>('fork'));
  const base = `ws://127.0.0.1:${workers[0]!.port}/api/v1/ws`;

  const target = new FloodReceiver(`${base}?user=target`);
  sockets.push(target);
  const receiverWorker = await target.worker;
  // The shared port hands connections out in turn: retry until the control user is on another worker.
  let control: TestSocket | undefined;
  let controlWorker = receiverWorker;
  for (let attempt = 0; controlWorker === receiverWorker; attempt++) {
    if (attempt > 10) throw new Error('no connection landed on another worker');
    control?.ws.terminate();
    control = new TestSocket(`${base}?user=control&device=d${attempt}`);
    sockets.push(control);
    controlWorker = ((await control.next(5000)) as { data: { worker: number } }).data.worker;
  }
  const sender = workers.find((w) => w.worker !== receiverWorker && w.worker !== controlWorker)!;
  // Both users are known to the relay before the flood starts.
  for (;;) {
    const online = await cluster.call<string[]>(sender.worker, 'onlineUsers');
    if (online.includes('target') && online.includes('control')) break;
  }
  const receiver = workers.find((w) => w.worker === receiverWorker)!;
  return { cluster, workers, target, receiver, control: control!, sender };
}

/**
 * Until `done()`, sends the control user a numbered message from worker
 * `from` every 100 ms and waits for it: the worst delay seen, and the
 * primary's largest heap meanwhile.
 */
async function serveControl(flood: Flood, from: number, done: () => boolean) {
  let checks = 0;
  let worstDelay = 0;
  let primaryPeak = 0;
  while (!done()) {
    const n = ++checks;
    const sent = Date.now();
    await flood.cluster.call(from, 'sendMessage', { userId: 'control', event: 'check', data: n });
    for (;;) {
      const m = await flood.control.next(5000);
      if (m.event === 'check' && m.data === n) break;
    }
    worstDelay = Math.max(worstDelay, Date.now() - sent);
    primaryPeak = Math.max(primaryPeak, (await flood.cluster.command<{ heapUsed: number }>('memory')).heapUsed);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { checks, worstDelay, primaryPeak };
}

interface FloodResult {
  ms: number;
  errors: string[];
  peakHeapMb: number;
  peakQueued: number;
}

describe('hostile: one worker floods another through the WorkerRelay (highWaterMarkBytes, maxQueuedBytes)', () => {
  it("an await loop of 40k 1 KiB sends: every process lives, memory stays bounded, a third worker's user is served, nothing is lost", async () => {
    const flood = await threeWorkers();
    const { cluster, target, receiver, sender } = flood;

    // 40k sent as one IPC message aborted the primary on this heap; 100k also passes, in twice the time.
    const count = Number(process.env.FLOOD_COUNT ?? 40_000);
    let finished = false;
    const flooding = cluster
      .call<FloodResult>(sender.worker, 'flood', { userId: 'target', count, bytes: 1024 })
      .finally(() => {
        finished = true;
      });
    // Meanwhile the control user on the third worker gets messages from the
    // receiving worker, through the same primary.
    const { checks, worstDelay, primaryPeak } = await serveControl(flood, receiver.worker, () => finished);
    const result = await flooding;
    const down = () => cluster.exit !== undefined || cluster.workerExits.length > 0;
    await until(() => target.count === count || down(), `${count} messages at the receiver (got ${target.count})`, 10_000);

    // Everyone lives. Unbounded, the primary ran out of heap (or the sender did).
    expect(cluster.exit, cluster.stderr).toBeUndefined();
    expect(cluster.workerExits, cluster.stderr).toEqual([]);
    // Nothing lost, nothing refused (an await loop waits instead), in order.
    expect(result.errors).toEqual([]);
    expect(target.count).toBe(count);
    expect(target.outOfOrder).toBe(0);
    // The sender's queue stays near its high-water mark (1 MiB); the primary's heap stays small.
    expect(result.peakQueued).toBeLessThan(2 * MiB);
    expect(result.peakHeapMb).toBeLessThan(64);
    expect(primaryPeak / MiB).toBeLessThan(64);
    expect(checks).toBeGreaterThan(0);
    expect(worstDelay).toBeLessThan(2000);
  }, 60_000);

  it.each(['sendMessage', 'push'])('an app that does not await %s gets a RangeError naming maxQueuedBytes for what did not fit; the rest arrives', async (via) => {
    const cluster = new ClusterProcess({ highWaterMarkBytes: 64 * 1024, maxQueuedBytes: 256 * 1024 });
    clusters.push(cluster);
    const workers: Forked[] = [];
    for (let i = 0; i < 2; i++) workers.push(await cluster.command<Forked>('fork'));
    const target = new FloodReceiver(`ws://127.0.0.1:${workers[0]!.port}/api/v1/ws?user=target`);
    sockets.push(target);
    const receiverWorker = await target.worker;
    const sender = workers.find((w) => w.worker !== receiverWorker)!.worker;
    while (!(await cluster.call<boolean>(sender, 'isOnline', { userId: 'target' }))) {}

    const count = 2000;
    const { refused, first } = await cluster.call<{ refused: number; first: string }>(sender, 'burst', {
      userId: 'target',
      count,
      bytes: 1024,
      via,
    });
    expect(refused).toBeGreaterThan(0);
    expect(first).toMatch(/^RangeError: wshub: WorkerBroker: the queue to the primary is full \(maxQueuedBytes, 262144\); this message was not sent/);
    // Every message not refused arrives; the sender lives.
    await until(() => target.count === count - refused, `${count - refused} messages (got ${target.count})`, 10_000);
    expect(await cluster.call<boolean>(sender, 'isOnline', { userId: 'target' })).toBe(true);
    expect(cluster.exit).toBeUndefined();
    expect(cluster.workerExits).toEqual([]);
  }, 30_000);

  it('the receiving worker is killed mid-flood while the primary is stopped: the primary and the others live on, the sender goes on', async () => {
    const flood = await threeWorkers();
    const { cluster, target, receiver, sender } = flood;
    let finished = false;
    const flooding = cluster
      .call<FloodResult>(sender.worker, 'flood', { userId: 'target', count: 10_000, bytes: 1024 })
      .finally(() => {
        finished = true;
      });
    await until(() => target.count > 1000, 'the flood at the receiver', 10_000);
    // The worst moment: the receiver dies while the primary is not looking,
    // so the primary's next writes to it meet a closed pipe (EPIPE), and the
    // acknowledgements it held for the sender must go.
    process.kill(cluster.child.pid!, 'SIGSTOP');
    process.kill(receiver.pid, 'SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, 100));
    process.kill(cluster.child.pid!, 'SIGCONT');

    const { checks, worstDelay } = await serveControl(flood, sender.worker, () => finished);
    const result = await flooding;
    await until(() => cluster.workerExits.length > 0 || cluster.exit !== undefined, "the receiver's exit", 5000);
    expect(cluster.exit, cluster.stderr).toBeUndefined();
    expect(cluster.workerExits).toEqual([`${receiver.worker}:SIGKILL`]);
    expect(result.errors).toEqual([]);
    expect(checks).toBeGreaterThan(0);
    expect(worstDelay).toBeLessThan(2000);
    expect(await cluster.call(sender.worker, 'onlineUsers')).toEqual(['control']);
    expect(await cluster.command('relayStats')).toMatchObject({ workers: 2, users: 1 });
  }, 30_000);
});
