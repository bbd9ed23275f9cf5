import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Outbox, type OutboxRelay } from '../src/index.js';
import { findPostgres, type HubFixture, PG, rows, startHub, take, testSchema, transaction, until } from './support.js';

const user = await findPostgres();
const script = fileURLToPath(new URL('./fixtures/relay-node.mjs', import.meta.url));

interface Call {
  type: 'call';
  id: number;
  method: 'sendMessage' | 'push' | 'disconnect';
  args: unknown[];
}

/** `promise`, or a failure naming `what` after `ms`: a wait that cannot end fails the test with a reason instead of its timeout. */
function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

describe.skipIf(!user)('a relay SIGKILLed mid-batch', () => {
  let db: Awaited<ReturnType<typeof testSchema>>;
  let pool: pg.Pool;
  let fx: HubFixture | undefined;
  let child: ChildProcess | undefined;
  let standby: OutboxRelay | undefined;

  beforeAll(async () => {
    db = await testSchema(user!, 'takeover');
    pool = db.pool;
  });
  afterAll(async () => {
    await db?.drop();
  });
  afterEach(async () => {
    child?.kill('SIGKILL');
    await standby?.close();
    await fx?.close();
  });

  it('another relay takes over: nothing lost, nothing twice, per-user order kept', async () => {
    const table = `${db.schema}.outbox`;
    const outbox = new Outbox({ pool, table });
    await outbox.install();
    fx = await startHub();
    const hub = fx.hub;
    const clients = { u1: await fx.connect('u1'), u2: await fx.connect('u2') };
    const sent: Record<string, number[]> = { u1: [], u2: [] };
    const write = async (from: number, count: number) => {
      for (let i = from; i < from + count; i += 10) {
        await transaction(pool, async (tx) => {
          for (let k = i; k < i + 10; k++) await outbox.sendMessage(tx, k % 2 ? 'u2' : 'u1', 'n', k);
        });
      }
      for (let k = from; k < from + count; k++) sent[k % 2 ? 'u2' : 'u1']!.push(k);
    };
    await write(0, 100);

    // The doomed relay reads 50 rows; the parent's hub takes 29 of them and
    // the process dies on the 30th, before the batch's delete could commit.
    const KILL_AT = 30;
    let calls = 0;
    child = fork(script, [], {
      env: {
        ...process.env,
        PG_CONFIG: JSON.stringify({ ...PG, user, max: 2 }),
        OUTBOX_TABLE: table,
        RELAY_OPTIONS: JSON.stringify({ batchSize: 50, pollIntervalMs: 100 }),
      },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const doomed = child;
    // Listened for from the fork on: the child can die and be reaped before
    // the test reaches an await of 'exit', which would then never come.
    const exited = once(doomed, 'exit');
    // The parent's hub takes no row until the standby is running, so the
    // standby starts while the child is the active relay and has to take over.
    let standbyRunning!: () => void;
    const standbyStarted = new Promise<void>((resolve) => {
      standbyRunning = resolve;
    });
    let firstCall!: () => void;
    const childSends = new Promise<void>((resolve) => {
      firstCall = resolve;
    });
    const killed = new Promise<void>((resolve) => {
      doomed.on('message', (m: Call | { type: string }) => {
        if (m.type !== 'call') return;
        const c = m as Call;
        firstCall();
        if (++calls === KILL_AT) {
          doomed.kill('SIGKILL');
          resolve();
          return;
        }
        const [a, b, c2, d, e] = c.args;
        const done = standbyStarted.then((): Promise<unknown> =>
          c.method === 'sendMessage'
            ? hub.sendMessage(a as string, b as string, c2, d as never, e as never)
            : c.method === 'push'
              ? hub.push(a as string, b as never, null, d as never, e as never)
              : hub.disconnect(a as string),
        );
        // With a callback, a reply to a child already killed fails quietly instead of as the ChildProcess's 'error'.
        done.then(
          () => doomed.connected && doomed.send({ id: c.id, ok: true }, () => {}),
          (error: Error) => doomed.connected && doomed.send({ id: c.id, ok: false, error: error.message }, () => {}),
        );
      });
    });
    await withTimeout(childSends, 15_000, 'the child relay to send its first row');
    standby = outbox.relay(hub, { batchSize: 50, pollIntervalMs: 100 });
    expect(standby.stats().active).toBe(false);
    standbyRunning();
    await withTimeout(killed, 15_000, `the child relay to send row ${KILL_AT} (it sent ${calls})`);
    await withTimeout(exited, 15_000, 'the killed child to exit');
    await write(100, 40);

    const got = { u1: await take(clients.u1, 70), u2: await take(clients.u2, 70) };
    expect(got.u1.map((m) => m.data)).toEqual(sent.u1);
    expect(got.u2.map((m) => m.data)).toEqual(sent.u2);
    expect(standby.stats().active).toBe(true);
    // The standby sent again the 29 rows the hub already had: the hub dropped them.
    await until('the table to be empty', async () => (await rows(pool, table)).pending === 0);
    // The relay counts a batch once its COMMIT answered, a moment after another connection sees the table empty.
    await until('the standby to count 140 rows', () => standby!.stats().relayed >= 140);
    expect(standby.stats().relayed).toBe(140);
    await hub.push('end');
    for (const c of Object.values(clients)) expect((await c.next()).event).toBe('end');
  });
});
