import { fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Outbox, type OutboxRelay } from '../src/index.js';
import { findPostgres, type HubFixture, PG, rows, startHub, testSchema, transaction, until } from './support.js';

const user = await findPostgres();
const script = fileURLToPath(new URL('./fixtures/app-tx.mjs', import.meta.url));

describe.skipIf(!user)('the app SIGKILLed inside its transaction', () => {
  let db: Awaited<ReturnType<typeof testSchema>>;
  let pool: pg.Pool;
  let fx: HubFixture | undefined;
  let relay: OutboxRelay | undefined;

  beforeAll(async () => {
    db = await testSchema(user!, 'appkill');
    pool = db.pool;
  });
  afterAll(async () => {
    await relay?.close();
    await fx?.close();
    await db?.drop();
  });

  it('after writing its outbox rows and before COMMIT: PostgreSQL rolls it back, and the relay sends nothing', async () => {
    const table = `${db.schema}.wshub_outbox`;
    const orders = `"${db.schema}".orders`;
    const outbox = new Outbox({ pool, table });
    await outbox.install();
    await pool.query(`CREATE TABLE ${orders} (id int PRIMARY KEY, status text)`);
    await pool.query(`INSERT INTO ${orders} VALUES (42, 'paid')`);
    fx = await startHub();
    const client = await fx.connect('u1');
    relay = outbox.relay(fx.hub, { pollIntervalMs: 50 });
    await until('the relay to lead', () => relay!.stats().active);

    const app = fork(script, [], {
      env: { ...process.env, PG_CONFIG: JSON.stringify({ ...PG, user, max: 1 }), OUTBOX_TABLE: table, APP_TABLE: orders },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const [written] = (await once(app, 'message')) as [{ type: 'written'; pid: number }];
    // The rows are in the table, not committed: the transaction is open on the app's backend.
    const open = await pool.query('SELECT state FROM pg_stat_activity WHERE pid = $1', [written.pid]);
    expect(open.rows[0]?.state).toBe('idle in transaction');
    app.kill('SIGKILL');
    await once(app, 'exit');
    expect(app.signalCode).toBe('SIGKILL');
    // PostgreSQL sees the connection go, ends the backend and rolls its transaction back.
    await until(
      "PostgreSQL to end the app's backend",
      async () => (await pool.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [written.pid])).rowCount === 0,
    );
    expect((await pool.query(`SELECT status FROM ${orders} WHERE id = 42`)).rows).toEqual([{ status: 'paid' }]);
    expect(await rows(pool, table)).toEqual({ pending: 0, dead: 0 });

    // The user's and the push's locks went with it: a committed row for the same user goes through,
    // and it is the first frame the client gets (the relay reads in commit order: nothing of the
    // rolled-back rows could come before it).
    await transaction(pool, (tx) => outbox.sendMessage(tx, 'u1', 'after', 1));
    const next = await client.next(10_000);
    expect([next.event, next.data]).toEqual(['after', 1]);
    await until('the table to be empty', async () => (await rows(pool, table)).pending === 0);
    // The relay counts a batch once its COMMIT answered, which can come a moment after the table shows it.
    await until('the relay to count the row', () => relay!.stats().relayed > 0);
    expect(relay.stats()).toMatchObject({ relayed: 1, deadLettered: 0 });
    await fx.hub.sendMessage('u1', 'end', null);
    expect((await client.next()).event).toBe('end');
  }, 60_000);
});
