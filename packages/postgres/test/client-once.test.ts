import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { HubClient } from '@wshub/client';
import type pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { Outbox } from '../src/index.js';
import { findPostgres, PG, rows, testSchema, transaction, until } from './support.js';

const user = await findPostgres();
const script = fileURLToPath(new URL('./fixtures/hub-restart-node.mjs', import.meta.url));

const BATCH = 20;
const ROWS = 30;
const KILL_AT = 15;

type NodeMessage = { type: 'listening'; port: number; path: string } | { type: 'active' | 'ready' } | { type: 'delivered'; id: string };

/**
 * A single hub node restarted on the same port while a batch is in flight:
 * the new process has neither the ids the old one sent nor its memory, and
 * its relay sends the uncommitted batch again, rows the client already got
 * among them. The client's handlers see each row once.
 */
describe.skipIf(!user)('one hub node restarted mid-batch: nothing twice to the client’s handlers', () => {
  let db: Awaited<ReturnType<typeof testSchema>>;
  let pool: pg.Pool;
  const children: ChildProcess[] = [];
  let client: HubClient | undefined;

  beforeAll(async () => {
    db = await testSchema(user!, 'once');
    pool = db.pool;
  });
  afterEach(async () => {
    await client?.close();
    client = undefined;
    for (const child of children.splice(0)) child.kill('SIGKILL');
  });
  afterAll(async () => {
    await db?.drop();
  });

  function node(table: string, env: Record<string, string>): { child: ChildProcess; messages: NodeMessage[] } {
    const child = fork(script, [], {
      env: {
        ...process.env,
        PG_CONFIG: JSON.stringify({ ...PG, user, max: 2 }),
        OUTBOX_TABLE: table,
        RELAY_OPTIONS: JSON.stringify({ batchSize: BATCH, pollIntervalMs: 50 }),
        ...env,
      },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    children.push(child);
    const messages: NodeMessage[] = [];
    child.on('message', (m: NodeMessage) => messages.push(m));
    return { child, messages };
  }

  it.each([
    ['receipts off', false],
    ['receipts on: the copies are confirmed, so the new node fires delivered for every row', true],
  ])('%s', async (_name, receipts) => {
    const table = `once_${receipts ? 'r' : 'p'}`;
    const outbox = new Outbox({ pool, table });
    await outbox.install();
    const first = node(table, { PORT: '0', KILL_AT: String(KILL_AT), RECEIPTS: receipts ? '1' : '' });
    await until('node 1 to listen and lead', () => first.messages.some((m) => m.type === 'active'));
    const { port, path } = first.messages.find((m) => m.type === 'listening') as { port: number; path: string };

    // Every frame the socket got (copies included), and what the handlers saw.
    const frames: string[] = [];
    class Counting extends WebSocket {
      constructor(...args: ConstructorParameters<typeof WebSocket>) {
        super(...args);
        this.addEventListener('message', (event) => frames.push(String(event.data)));
      }
    }
    client = new HubClient(`ws://127.0.0.1:${port}${path}?user=u1`, {
      WebSocket: Counting,
      reconnect: { initialDelayMs: 20, maxDelayMs: 100 },
    });
    const handled: unknown[] = [];
    client.on('n' as never, ((data: unknown) => handled.push(data)) as never);
    await until('node 1 to have the client ready', () => first.messages.some((m) => m.type === 'ready'));

    await transaction(pool, async (tx) => {
      for (let k = 0; k < ROWS; k++) await outbox.sendMessage(tx, 'u1', 'n', k);
    });
    // Node 1 writes rows 0…13 to the socket and dies handing the hub row 14, its batch (0…19) never committed.
    await once(first.child, 'exit');
    expect(first.child.signalCode).toBe('SIGKILL');
    expect(handled).toEqual(Array.from({ length: KILL_AT - 1 }, (_, i) => i));

    const second = node(table, { PORT: String(port), START_ON_READY: '1', RECEIPTS: receipts ? '1' : '' });
    await until('the table to be empty', async () => (await rows(pool, table)).pending === 0, 30_000);
    await transaction(pool, (tx) => outbox.sendMessage(tx, 'u1', 'n', 'end'));
    await until('the end row', () => handled.includes('end'), 15_000);

    expect(handled).toEqual([...Array.from({ length: ROWS }, (_, i) => i), 'end']);
    // The copies did reach the socket: node 2 sent 0…13 again.
    const copies = frames.filter((f) => JSON.parse(f).event === 'n').length - handled.length;
    expect(copies).toBe(KILL_AT - 1);
    if (receipts) {
      const delivered = () => new Set(second.messages.flatMap((m) => (m.type === 'delivered' ? [m.id] : []))).size;
      await until("node 2's 'delivered' for every row, the copies included", () => delivered() === ROWS + 1);
    }
  }, 60_000);
});
