/**
 * WorkerBroker + WorkerRelay: hubs on the workers of a real node:cluster
 * (forked processes sharing one port), real sockets. The cluster's primary
 * (test/worker/primary.mjs) runs the relay and passes calls to the workers.
 */
import { type ChildProcess, fork } from 'node:child_process';
import cluster from 'node:cluster';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkerBroker, WorkerRelay } from '../src/index.js';
import { IPC_BATCH_BYTES, IPC_BATCH_OPS, type IpcBatch, OpQueue } from '../src/brokers/worker-ipc.js';
import { TestSocket } from './helpers.js';

const script = fileURLToPath(new URL('./worker/primary.mjs', import.meta.url));
const dist = process.env.WSHUB_CORE_DIST ?? fileURLToPath(new URL('../dist/index.js', import.meta.url));

interface Presence {
  worker: number;
  userId: string;
  online: boolean;
}

/** The cluster's primary process, driven over IPC. */
class Primary {
  readonly child: ChildProcess;
  readonly presence: Presence[] = [];
  readonly relayPresence: Array<{ userId: string; online: boolean }> = [];
  readonly errors: string[] = [];
  /** How the primary exited, once it did. */
  exit: { code: number | null; signal: string | null } | undefined;
  private nextId = 0;
  private readonly replies = new Map<number, (m: { result?: unknown; error?: string }) => void>();

  constructor() {
    this.child = fork(script, [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    this.child.on('message', (m: any) => {
      if (m.type === 'reply') {
        this.replies.get(m.id)?.(m);
        this.replies.delete(m.id);
      } else if (m.type === 'presence') this.presence.push({ worker: m.worker, userId: m.userId, online: m.online });
      else if (m.type === 'relay-presence') this.relayPresence.push({ userId: m.userId, online: m.online });
      else if (m.type === 'error') this.errors.push(`worker ${m.worker}: ${m.message}`);
    });
    this.child.on('exit', (code, signal) => {
      this.exit = { code, signal };
      for (const reply of this.replies.values()) reply({ error: `the primary exited (${code ?? signal})` });
      this.replies.clear();
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

  /** Presence changes of `userId` seen so far, as `+w1` (online, emitted by worker 1) / `-w2`. */
  changes(userId: string): string[] {
    return this.presence.filter((p) => p.userId === userId).map((p) => `${p.online ? '+' : '-'}w${p.worker}`);
  }
}

let primary: Primary;
let port = 0;
/** Alice's laptop is on w1, her phone on w2; bob is on wb, one of them. */
let w1 = 0;
let w2 = 0;
let wb = 0;
const sockets: TestSocket[] = [];

/** A socket of `query` and the worker it landed on (the shared port hands connections out in turn). */
async function connect(query: string): Promise<{ socket: TestSocket; worker: number }> {
  const socket = new TestSocket(`ws://127.0.0.1:${port}/api/v1/ws?${query}`);
  sockets.push(socket);
  const hello = (await socket.next(5000)) as { data: { worker: number } };
  return { socket, worker: hello.data.worker };
}

/**
 * A socket of `query` on worker `worker`: retried until it lands there.
 * Only for a user who is online already, so a try on the other worker
 * changes no presence.
 */
async function connectOn(worker: number, query: string): Promise<TestSocket> {
  for (let attempt = 0; attempt < 12; attempt++) {
    const { socket, worker: landed } = await connect(query);
    if (landed === worker) return socket;
    socket.ws.close();
    await socket.waitForClose();
  }
  throw new Error(`no connection landed on worker ${worker}`);
}

/** Every presence change the workers emitted so far has reached the test: a round trip through each worker's relay link. */
async function settle(...workers: number[]): Promise<void> {
  for (const w of workers) await primary.call(w, 'onlineUsers');
}

async function until(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const end = Date.now() + 5000;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('WorkerBroker: hubs on node:cluster workers, one port', () => {
  beforeAll(async () => {
    if (!existsSync(dist)) throw new Error('packages/core/dist is missing: run `npm run build` first');
    primary = new Primary();
    const a = await primary.command<{ worker: number; port: number }>('fork');
    const b = await primary.command<{ worker: number; port: number }>('fork');
    expect(b.port).toBe(a.port);
    port = a.port;
    w1 = a.worker;
    w2 = b.worker;
  }, 20_000);

  afterAll(() => {
    for (const s of sockets) s.ws.terminate();
    primary?.child.kill('SIGKILL');
  });

  let alicePhone: TestSocket;
  let aliceLaptop: TestSocket;
  let bob: TestSocket;

  it('a user with devices on two workers comes online once', async () => {
    const laptop = await connect('user=alice&device=laptop&name=Alice');
    aliceLaptop = laptop.socket;
    // Name the workers after where the laptop landed.
    if (laptop.worker !== w1) [w1, w2] = [w2, w1];
    alicePhone = await connectOn(w2, 'user=alice&device=phone&name=Alice');
    ({ socket: bob, worker: wb } = await connect('user=bob&device=phone'));
    await settle(w1, w2);
    expect(primary.changes('alice')).toEqual([`+w${w1}`]);
    expect(primary.changes('bob')).toEqual([`+w${wb}`]);
    expect(await primary.call(w1, 'onlineUsers')).toEqual(['alice', 'bob']);
    expect(await primary.call(w1, 'isOnline', { userId: 'bob' })).toBe(true);
    expect(await primary.call(w2, 'isOnline', { userId: 'carol' })).toBe(false);
  });

  it('sendMessage from one worker reaches the user on every worker', async () => {
    await primary.call(w1, 'sendMessage', { userId: 'alice', event: 'order', data: { id: 1 } });
    expect(await aliceLaptop.next()).toEqual({ event: 'order', data: { id: 1 } });
    expect(await alicePhone.next()).toEqual({ event: 'order', data: { id: 1 } });
    await primary.call(w1, 'sendMessage', { userId: 'bob', event: 'order', data: { id: 2 } });
    expect(await bob.next()).toEqual({ event: 'order', data: { id: 2 } });
    // A broadcast reaches every socket once.
    await primary.call(w2, 'broadcast', { event: 'news', data: 'hi' });
    for (const s of [aliceLaptop, alicePhone, bob]) expect(await s.next()).toEqual({ event: 'news', data: 'hi' });
  });

  it('push runs its callbacks once per user, cluster-wide, on the calling worker', async () => {
    const allowed = await primary.call<string[]>(w1, 'push', { event: 'note' });
    expect(allowed.sort()).toEqual(['alice', 'bob']);
    for (const s of [aliceLaptop, alicePhone]) {
      expect(await s.next()).toEqual({ event: 'note', data: { name: 'Alice', from: w1 } });
    }
    expect(await bob.next()).toEqual({ event: 'note', data: { name: 'bob', from: w1 } });
  });

  it('updateUser on one worker changes the user on every worker and for push callbacks', async () => {
    await primary.call(w1, 'updateUser', { user: { id: 'alice', deviceFingerprint: 'laptop', name: 'Alice B' } });
    await until(async () => (await primary.call<string[]>(w2, 'localNames', { userId: 'alice' }))[0] === 'Alice B', 'the update on worker 2');
    await primary.call<string[]>(w2, 'push', { event: 'note' });
    expect((await alicePhone.next()).data).toEqual({ name: 'Alice B', from: w2 });
    expect((await aliceLaptop.next()).data).toEqual({ name: 'Alice B', from: w2 });
    expect((await bob.next()).data).toEqual({ name: 'bob', from: w2 });
  });

  it('disconnect from one worker closes the device on another with 4000', async () => {
    const extra = await connectOn(w2, 'user=alice&device=tablet');
    await primary.call(w1, 'disconnect', { userId: 'alice', device: 'tablet' });
    expect((await extra.waitForClose()).code).toBe(4000);
    // The others stay: the next message is the marker.
    await primary.call(w1, 'sendMessage', { userId: 'alice', event: 'marker' });
    expect((await alicePhone.next()).event).toBe('marker');
    expect((await aliceLaptop.next()).event).toBe('marker');
    await settle(w1, w2);
    expect(primary.changes('alice')).toEqual([`+w${w1}`]);
  });

  it('a sendMessage on one worker to a socket on another is one trace: the envelope carries the traceparent', async () => {
    interface Exported {
      name: string;
      kind: number;
      traceId: string;
      spanId: string;
      parentSpanId?: string;
      attributes: Record<string, unknown>;
    }
    await primary.call(w1, 'startTracing');
    await primary.call(w2, 'startTracing');
    const request = await primary.call<{ traceId: string; spanId: string }>(w1, 'tracedSend', { userId: 'alice', event: 'shipped', data: 1 });
    expect(await aliceLaptop.next()).toEqual({ event: 'shipped', data: 1 });
    expect(await alicePhone.next()).toEqual({ event: 'shipped', data: 1 });
    const inTrace = async (w: number) =>
      (await primary.call<Exported[]>(w, 'spans')).filter((s) => s.traceId === request.traceId && s.name.startsWith('wshub.'));
    await until(async () => (await inTrace(w2)).length === 1, 'the delivery span on the other worker');
    const [send] = await inTrace(w1);
    const [deliver] = await inTrace(w2);
    expect(send).toMatchObject({ name: 'wshub.send', parentSpanId: request.spanId, attributes: { 'wshub.sockets': 1 } });
    expect(deliver).toMatchObject({ name: 'wshub.deliver', parentSpanId: send!.spanId, attributes: { 'wshub.sockets': 1 } });
  });

  it("receipts: a confirmation on another worker reaches the sender's worker; 'undelivered' fires once, there", async () => {
    // A protocol v2 socket (it gets the ids) of a new user on w2.
    let carol: TestSocket | undefined;
    for (let attempt = 0; attempt < 20 && !carol; attempt++) {
      const socket = new TestSocket(`ws://127.0.0.1:${port}/api/v1/ws?user=carol&device=tablet`, { protocols: ['wshub'] });
      sockets.push(socket);
      let hello: { event: string; data: { worker: number } } | undefined;
      while (!hello) {
        const m = (await socket.next(5000)) as { event: string; data: { worker: number } };
        if (m.event === 'hello') hello = m;
      }
      if (hello.data.worker === w2) carol = socket;
      else {
        socket.ws.close();
        await socket.waitForClose();
        await until(async () => !(await primary.call<boolean>(w1, 'isOnline', { userId: 'carol' })), 'carol offline');
      }
    }
    if (!carol) throw new Error('no connection landed on worker w2');
    await until(() => primary.call<boolean>(w1, 'isOnline', { userId: 'carol' }), 'carol online on w1');
    const id = await primary.call<string>(w1, 'sendMessage', { userId: 'carol', event: 'note', data: 1 });
    const away = await primary.call<string>(w1, 'sendMessage', { userId: 'nobody-here', event: 'note', data: 2 });
    let m = await carol.next(5000);
    if (m.event === 'wshub:welcome') m = await carol.next(5000);
    expect(m).toEqual({ event: 'note', data: 1, id });
    carol.send({ event: 'wshub:confirm', data: { ids: [id] } });
    await until(async () => (await primary.call<string[]>(w1, 'receipts')).includes(`undelivered ${away} nobody-here`), 'undelivered');
    await new Promise((r) => setTimeout(r, 450));
    const mine = (log: string[]) => log.filter((line) => line.includes(id) || line.includes(away));
    expect(mine(await primary.call<string[]>(w1, 'receipts'))).toEqual([`delivered ${id} tablet`, `undelivered ${away} nobody-here`]);
    expect(mine(await primary.call<string[]>(w2, 'receipts'))).toEqual([]);
    // Carol leaves, so the tests below see the users they expect.
    carol.ws.close();
    await carol.waitForClose();
    await until(async () => !(await primary.call<boolean>(w1, 'isOnline', { userId: 'carol' })), 'carol offline');
    await settle(w1, w2);
  });

  it('a killed worker: its users go offline once, told by a live worker; a replacement serves them again', async () => {
    // Kill bob's worker; alice has a device on each worker, so one survives.
    const survivor = wb === w1 ? w2 : w1;
    const [aliceGone, aliceKept] = wb === w1 ? [aliceLaptop, alicePhone] : [alicePhone, aliceLaptop];
    await primary.command('kill', { worker: wb });
    await aliceGone.waitForClose();
    await bob.waitForClose();
    await until(() => primary.changes('bob').length === 2, 'bob offline');
    await settle(survivor);
    expect(primary.changes('bob')).toEqual([`+w${wb}`, `-w${survivor}`]);
    expect(primary.changes('alice')).toEqual([`+w${w1}`]);
    expect(await primary.call(survivor, 'onlineUsers')).toEqual(['alice']);
    expect(primary.relayPresence.filter((p) => p.userId === 'bob')).toEqual([
      { userId: 'bob', online: true },
      { userId: 'bob', online: false },
    ]);

    const w3 = (await primary.command<{ worker: number; port: number }>('fork')).worker;
    const { socket: bobAgain, worker: landed } = await connect('user=bob&device=phone');
    await settle(survivor, w3);
    expect(primary.changes('bob')).toEqual([`+w${wb}`, `-w${survivor}`, `+w${landed}`]);
    // From whichever worker bob is not on.
    await primary.call(landed === w3 ? survivor : w3, 'sendMessage', { userId: 'bob', event: 'order', data: { id: 3 } });
    expect(await bobAgain.next()).toEqual({ event: 'order', data: { id: 3 } });
    await primary.call(w3, 'sendMessage', { userId: 'alice', event: 'order', data: { id: 4 } });
    expect(await aliceKept.next()).toEqual({ event: 'order', data: { id: 4 } });
    expect(await primary.call(w3, 'onlineUsers')).toEqual(['alice', 'bob']);
    expect(await primary.command('relayStats')).toMatchObject({ workers: 2, users: 2 });
    expect(primary.errors).toEqual([]);
  });

});

describe('WorkerRelay: a worker that dies while the relay writes to it', () => {
  interface Forked {
    worker: number;
    port: number;
    pid: number;
  }
  let workers: Forked[] = [];

  beforeAll(async () => {
    primary = new Primary();
    workers = [];
    for (let i = 0; i < 3; i++) workers.push(await primary.command<Forked>('fork'));
    port = workers[0]!.port;
  }, 20_000);

  afterAll(() => {
    for (const s of sockets) s.ws.terminate();
    primary?.child.kill('SIGKILL');
  });

  it('is dropped; the primary and the other workers live on', async () => {
    const bob = await connect('user=bob');
    let carol = await connect('user=carol');
    while (carol.worker === bob.worker) carol = await connect(`user=carol&device=d${sockets.length}`);
    const receiver = workers.find((w) => w.worker === bob.worker)!;
    const sender = workers.find((w) => w.worker !== bob.worker && w.worker !== carol.worker)!;
    await settle(sender.worker);

    // The sender streams to bob; the primary writes every batch to bob's worker.
    const streaming = primary.call<number>(sender.worker, 'stream', { userId: 'bob', ms: 1500 });
    expect((await bob.socket.next(5000)).event).toBe('tick');
    // The worst moment: the receiver dies while the primary is not looking, so
    // the primary's next writes to it meet a closed pipe (EPIPE).
    process.kill(primary.child.pid!, 'SIGSTOP');
    process.kill(receiver.pid, 'SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, 100));
    process.kill(primary.child.pid!, 'SIGCONT');

    expect(await streaming).toBeGreaterThan(0);
    expect(primary.exit).toBeUndefined();
    await primary.call(sender.worker, 'sendMessage', { userId: 'carol', event: 'after', data: 1 });
    const after = (await carol.socket.next(5000)) as { event: string };
    expect(after.event).toBe('after');
    expect(await primary.call(sender.worker, 'onlineUsers')).toEqual(['carol']);
    expect(await primary.command('relayStats')).toMatchObject({ workers: 2, users: 1 });
  }, 20_000);
});

describe('the IPC queue: batches by count and bytes, one write at a time while the channel is full', () => {
  type Op = ['pub', string, string];
  const op = (data: string): Op => ['pub', 'c', data];
  const tick = () => new Promise((resolve) => process.nextTick(resolve));

  function queue(accept: boolean, canSend = () => true) {
    const sent: Array<IpcBatch<Op>> = [];
    const pending: Array<() => void> = [];
    const q = new OpQueue<Op>(
      'p',
      (batch, done) => {
        sent.push(batch);
        pending.push(done);
        return accept;
      },
      canSend,
    );
    return { q, sent, pending };
  }

  it('a full batch of operations goes at once, the rest on the next tick', async () => {
    const { q, sent } = queue(true);
    for (let i = 0; i < IPC_BATCH_OPS + 1; i++) q.push(op('x'));
    expect(sent.map((b) => b.ops.length)).toEqual([IPC_BATCH_OPS]);
    await tick();
    expect(sent.map((b) => b.ops.length)).toEqual([IPC_BATCH_OPS, 1]);
    expect(q.bytes).toBe(0);
  });

  it('a batch holds about IPC_BATCH_BYTES: an await loop of 1 KiB sends never builds one huge message', () => {
    const { q, sent } = queue(true);
    const kib = 'x'.repeat(1024);
    for (let i = 0; i < 1000; i++) q.push(op(kib));
    expect(sent.length).toBeGreaterThanOrEqual(3);
    for (const batch of sent) expect(batch.bytes).toBeLessThan(IPC_BATCH_BYTES + 2048);
  });

  it("while the channel's buffer is full, operations wait for the write's callback", async () => {
    const { q, sent, pending } = queue(false);
    const kib = 'x'.repeat(1024);
    for (let i = 0; i < 600; i++) q.push(op(kib));
    await tick();
    expect(sent).toHaveLength(1);
    expect(q.bytes).toBeGreaterThan(256 * 1024);
    pending.shift()!();
    expect(sent).toHaveLength(2);
    pending.shift()!();
    pending.shift()!();
    expect(sent.reduce((n, b) => n + b.ops.length, 0)).toBe(600);
    expect(q.bytes).toBe(0);
  });

  it('canSend() holds everything (the unacknowledged window is full) until a flush after it says yes', async () => {
    let open = false;
    const { q, sent } = queue(true, () => open);
    q.push(op('a'));
    await tick();
    expect(sent).toHaveLength(0);
    open = true;
    q.flush();
    expect(sent.map((b) => b.ops)).toEqual([[op('a')]]);
  });
});

describe('WorkerBroker / WorkerRelay: misuse fails at once', () => {
  it('a WorkerBroker outside a cluster worker throws, naming the WorkerRelay', () => {
    expect(() => new WorkerBroker()).toThrow(/WorkerBroker runs in a node:cluster worker.*WorkerRelay/);
  });

  it.each([
    [{ prefix: '' }, /"prefix" must be a non-empty string without spaces, got ""/],
    [{ prefix: 'a b' }, /"prefix" must be a non-empty string without spaces, got "a b"/],
    [{ onPresence: 'log' }, /WorkerRelay: option "onPresence" must be a function, got "log"/],
    [{ maxQueuedBytes: 0 }, /^wshub WorkerRelay: option "maxQueuedBytes" must be a positive integer, got 0$/],
    [{ maxQueuedBytes: '4MB' }, /^wshub WorkerRelay: option "maxQueuedBytes" must be a positive integer, got "4MB"$/],
  ])('new WorkerRelay(%j) throws', (options, message) => {
    expect(() => new WorkerRelay(options as never)).toThrow(message);
  });

  it.each([
    [{ requestTimeoutMs: 0 }, /^wshub WorkerBroker: option "requestTimeoutMs" must be a positive integer, got 0$/],
    [{ highWaterMarkBytes: 1.5 }, /^wshub WorkerBroker: option "highWaterMarkBytes" must be a positive integer, got 1.5$/],
    [{ maxQueuedBytes: '16MB' }, /^wshub WorkerBroker: option "maxQueuedBytes" must be a positive integer, got "16MB"$/],
    [
      { highWaterMarkBytes: 2048, maxQueuedBytes: 1024 },
      /^wshub WorkerBroker: option "maxQueuedBytes" must be at least highWaterMarkBytes \(2048\), got 1024$/,
    ],
  ])('new WorkerBroker(%j) in a worker throws', (options, message) => {
    // As if in a cluster worker (with an IPC channel): the options are checked before anything is sent.
    const role = cluster as { isWorker: boolean };
    const wasWorker = role.isWorker;
    const send = process.send;
    role.isWorker = true;
    process.send ??= () => true;
    try {
      expect(() => new WorkerBroker(options as never)).toThrow(message);
    } finally {
      role.isWorker = wasWorker;
      process.send = send;
    }
  });

  it('a relay in the primary can be closed again', () => {
    const relay = new WorkerRelay({ prefix: 'closing' });
    expect(relay.stats()).toEqual({ workers: 0, users: 0, channels: 0, relayed: 0, batches: 0, queuedBytes: 0 });
    relay.close();
  });
});
