/**
 * The relay on a node:cluster worker: hubs with a WorkerBroker (in
 * @wshub/core) on the workers of a real cluster sharing one port, the
 * primary (fixtures/cluster-primary.mjs) running the WorkerRelay. The relay
 * runs in one worker; the client's sockets are on another worker (and on
 * the relay's own), so every row crosses the primary's IPC.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Outbox } from '../src/index.js';
import { findPostgres, PG, rows, TestSocket, take, testSchema, transaction, until } from './support.js';

const user = await findPostgres();
const script = fileURLToPath(new URL('./fixtures/cluster-primary.mjs', import.meta.url));

/** The cluster's primary, driven over IPC. */
class Primary {
  readonly child: ChildProcess;
  readonly errors: string[] = [];
  private nextId = 0;
  private readonly replies = new Map<number, (m: { result?: unknown; error?: string }) => void>();

  constructor(env: Record<string, string>) {
    this.child = fork(script, [], { env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.child.on('message', (m: { type: string; id?: number; worker?: number; message?: string; result?: unknown; error?: string }) => {
      if (m.type === 'reply') {
        this.replies.get(m.id!)?.(m);
        this.replies.delete(m.id!);
      } else if (m.type === 'error') this.errors.push(`worker ${m.worker}: ${m.message}`);
    });
    this.child.on('exit', (code, signal) => {
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
}

describe.skipIf(!user)('the relay on a node:cluster worker (WorkerBroker)', () => {
  let db: Awaited<ReturnType<typeof testSchema>>;
  let pool: pg.Pool;
  let primary: Primary;
  let table: string;
  let port = 0;
  const sockets: TestSocket[] = [];

  /** A socket of `userId` on worker `worker`: connects again until the shared port hands it there. */
  async function connectOn(worker: number, userId: string): Promise<TestSocket> {
    for (let attempt = 0; attempt < 12; attempt++) {
      const socket = new TestSocket(`ws://127.0.0.1:${port}/api/v1/ws?user=${userId}`);
      const hello = (await socket.next(5000)) as { event: string; data: { worker: number } };
      expect(hello.event).toBe('hello');
      if (hello.data.worker === worker) {
        sockets.push(socket);
        return socket;
      }
      socket.ws.close();
      await socket.waitForClose();
    }
    throw new Error(`no connection of ${userId} landed on worker ${worker}`);
  }

  beforeAll(async () => {
    db = await testSchema(user!, 'workers');
    pool = db.pool;
    table = `${db.schema}.outbox`;
    await new Outbox({ pool, table }).install();
    primary = new Primary({ PG_CONFIG: JSON.stringify({ ...PG, user, max: 2 }), OUTBOX_TABLE: table });
  });
  afterAll(async () => {
    for (const s of sockets) s.ws.terminate();
    primary?.child.kill('SIGKILL');
    await db?.drop();
  });

  it('rows committed reach the user once, on the relay worker and on another, in order; push and disconnect too', async () => {
    const outbox = new Outbox({ pool, table });
    const a = await primary.command<{ worker: number; port: number }>('fork');
    const b = await primary.command<{ worker: number; port: number }>('fork');
    expect(b.port).toBe(a.port);
    port = a.port;
    const onB = await connectOn(b.worker, 'u1');
    const onA = await connectOn(a.worker, 'u1');
    const u2 = await connectOn(b.worker, 'u2');
    await primary.call(a.worker, 'startRelay', { options: { batchSize: 10, pollIntervalMs: 100 } });
    await until('the relay in worker A to lead', async () => (await primary.call<{ active: boolean }>(a.worker, 'relayStats')).active);

    for (let i = 0; i < 30; i += 5) {
      await transaction(pool, async (tx) => {
        for (let k = i; k < i + 5; k++) await outbox.sendMessage(tx, 'u1', 'n', k);
      });
    }
    await transaction(pool, async (tx) => {
      await outbox.push(tx, 'news', 'all');
      await outbox.disconnect(tx, 'u2');
      await outbox.sendMessage(tx, 'u1', 'end');
    });
    const expected = [...[...Array(30).keys()].map((k) => ({ event: 'n', data: k })), { event: 'news', data: 'all' }, { event: 'end' }];
    for (const socket of [onB, onA]) expect(await take(socket, 32)).toEqual(expected);
    expect(await u2.next()).toEqual({ event: 'news', data: 'all' });
    expect((await u2.waitForClose()).code).toBe(4000);
    await until('the table to be empty', async () => (await rows(pool, table)).pending === 0);
    await until('the relay to count 33 rows', async () => (await primary.call<{ relayed: number }>(a.worker, 'relayStats')).relayed === 33);
    // Nothing more: a repeat of any row would come before a row committed after them all, on the same way to the user.
    await transaction(pool, (tx) => outbox.sendMessage(tx, 'u1', 'barrier'));
    for (const socket of [onB, onA]) expect(await take(socket, 1)).toEqual([{ event: 'barrier' }]);
    expect(onB.unread).toEqual([]);
    expect(onA.unread).toEqual([]);
    expect(primary.errors).toEqual([]);
    await primary.call(a.worker, 'closeRelay');
  });

  it('with recovery on, the relay worker SIGKILLed mid-batch: a relay on another worker takes over, nothing lost, nothing twice, in commit order', async () => {
    const outbox = new Outbox({ pool, table });
    const ROWS = 300;
    const BATCH = 20;
    const options = { batchSize: BATCH, pollIntervalMs: 100 };
    // Worker A relays and dies on its 50th row; worker C stands by; the client is on worker B.
    const a = await primary.command<{ worker: number; port: number }>('fork', { env: { RECOVERY: '1', KILL_AT: '50' } });
    const b = await primary.command<{ worker: number; port: number }>('fork', { env: { RECOVERY: '1' } });
    port = a.port;
    const client = await connectOn(b.worker, 'u3');
    // The first 100 rows in one transaction, so worker A takes full batches: 0…19, 20…39, then 40…59, in which it dies.
    await transaction(pool, async (tx) => {
      for (let k = 0; k < 100; k++) await outbox.sendMessage(tx, 'u3', 'n', k);
    });
    const exits: number[] = [];
    primary.child.on('message', (m: { type: string; worker?: number }) => m.type === 'exit' && exits.push(m.worker!));
    const c = await primary.command<{ worker: number; port: number }>('fork', { env: { RECOVERY: '1' } });
    await primary.call(a.worker, 'startRelay', { options });
    await until('the relay in worker A to lead', async () => (await primary.call<{ active: boolean } | null>(a.worker, 'relayStats').catch(() => null))?.active !== false);
    await primary.call(c.worker, 'startRelay', { options });
    // The app goes on committing meanwhile.
    for (let i = 100; i < ROWS; i += 10) {
      await transaction(pool, async (tx) => {
        for (let k = i; k < i + 10; k++) await outbox.sendMessage(tx, 'u3', 'n', k);
      });
    }
    const got: number[] = [];
    while (!got.includes(ROWS - 1)) got.push((await client.next(20_000)).data as number);
    await until('the table to be empty', async () => (await rows(pool, table)).pending === 0);
    await transaction(pool, (tx) => outbox.sendMessage(tx, 'u3', 'end'));
    for (;;) {
      const m = await client.next(10_000);
      if (m.event === 'end') break;
      got.push(m.data as number);
    }
    expect(exits).toEqual([a.worker]);
    expect(got).toEqual(Array.from({ length: ROWS }, (_, i) => i));
    // C started again at the first row of A's batch in flight (40), and counts the marker too.
    await until('worker C to count its rows', async () => (await primary.call<{ relayed: number }>(c.worker, 'relayStats')).relayed >= ROWS - 40 + 1);
    expect(await primary.call<{ active: boolean; relayed: number }>(c.worker, 'relayStats')).toMatchObject({ active: true, relayed: ROWS - 40 + 1 });
    expect(primary.errors).toEqual([]);
    await primary.call(c.worker, 'closeRelay');
  }, 60_000);
});
