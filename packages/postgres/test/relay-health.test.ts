import { createServer } from 'node:net';
import { hubHealth } from '@wshub/core';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Outbox, type OutboxRelay } from '../src/index.js';
import { lockKeys } from '../src/schema.js';
import { OutageProxy } from './outage-proxy.js';
import { findPostgres, type HubFixture, PG, startHub, testSchema, transaction, until } from './support.js';

/** relay.health() against a real PostgreSQL: role, backlog, dead letters, failures. */
const user = await findPostgres();

describe.skipIf(!user)('relay.health()', () => {
  let db: Awaited<ReturnType<typeof testSchema>>;
  let pool: pg.Pool;
  let fx: HubFixture;
  let n = 0;
  const relays: OutboxRelay[] = [];
  const cleanup: Array<() => Promise<unknown>> = [];

  beforeAll(async () => {
    db = await testSchema(user!, 'health');
    pool = db.pool;
    fx = await startHub();
  });
  afterAll(async () => {
    await fx?.close();
    await db?.drop();
  });
  // Locks first: a relay closes after its round in flight, which a held table lock would hold up.
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
    await Promise.all(relays.splice(0).map((r) => r.close()));
  });

  async function fresh(): Promise<{ outbox: Outbox; table: string }> {
    const table = `${db.schema}.outbox_${++n}`;
    const outbox = new Outbox({ pool, table });
    await outbox.install();
    return { outbox, table };
  }

  function relay(outbox: Outbox): OutboxRelay {
    const r = outbox.relay(fx.hub, { pollIntervalMs: 50, retryMinMs: 20, retryMaxMs: 100 });
    relays.push(r);
    return r;
  }

  /** Holds `table`'s leader lock on a connection of its own, as a relay on another node would. */
  async function leaderElsewhere(table: string): Promise<void> {
    const client = await pool.connect();
    await client.query('SELECT pg_advisory_lock($1::bigint)', [lockKeys(table).leader]);
    cleanup.push(async () => client.release(true));
  }

  it('the leader, with an empty table: ready', async () => {
    const { outbox } = await fresh();
    const r = relay(outbox);
    await until('the relay to lead', () => r.stats().active);
    expect(await r.health()).toEqual({
      ready: true,
      role: 'leader',
      pending: 0,
      oldestPendingSeconds: 0,
      deadLettered: 0,
      failures: 0,
      lastError: undefined,
      problems: [],
    });
  });

  it('a follower is ready while the backlog is young, and down once the oldest row passes maxPendingAgeSeconds', async () => {
    const { outbox, table } = await fresh();
    await leaderElsewhere(table);
    const r = relay(outbox);
    await transaction(pool, (tx) => outbox.sendMessage(tx, 'u1', 'e', 1));
    await transaction(pool, (tx) => outbox.sendMessage(tx, 'u1', 'e', 2));
    await new Promise((resolve) => setTimeout(resolve, 150)); // a few of its polls: it stays a follower
    expect(await r.health()).toMatchObject({ ready: true, role: 'follower', pending: 2, deadLettered: 0, problems: [] });
    await pool.query(`UPDATE ${table} SET created_at = now() - interval '90 seconds'`);
    const health = await r.health();
    expect(health).toMatchObject({ ready: false, role: 'follower', pending: 2 });
    expect(health.oldestPendingSeconds).toBeGreaterThanOrEqual(90);
    expect(health.problems).toEqual([expect.stringMatching(/^the oldest pending row is 9\d s old, more than maxPendingAgeSeconds 60: no relay is keeping up$/)]);
    expect((await r.health({ maxPendingAgeSeconds: 300 })).ready).toBe(true);
  });

  it('dead letters are counted, and past maxDeadLettered make it down', async () => {
    const { outbox } = await fresh();
    const r = outbox.relay({ ...fx.hub, sendMessage: () => Promise.reject(new Error('refused')), push: fx.hub.push, disconnect: fx.hub.disconnect } as never, {
      pollIntervalMs: 50,
    });
    relays.push(r);
    r.on('error', () => {});
    await transaction(pool, (tx) => outbox.sendMessage(tx, 'u1', 'e', 1));
    await until('the row to be dead-lettered', () => r.stats().deadLettered === 1);
    const health = await r.health();
    expect(health).toMatchObject({ ready: true, deadLettered: 1, pending: 0, lastError: expect.stringMatching(/dead-lettered: refused/) });
    expect(await r.health({ maxDeadLettered: 0 })).toMatchObject({ ready: false, problems: ['1 dead-lettered rows, more than maxDeadLettered 0'] });
  });

  it('a table PostgreSQL does not answer for within timeoutMs (locked by a migration): down, and the probe returns', async () => {
    const { outbox, table } = await fresh();
    const r = relay(outbox);
    await until('the relay to lead', () => r.stats().active);
    const migration = await pool.connect();
    cleanup.push(async () => {
      await migration.query('ROLLBACK');
      migration.release();
    });
    await migration.query('BEGIN');
    await migration.query(`LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`);
    const health = await r.health({ timeoutMs: 200 });
    expect(health).toMatchObject({ ready: false, pending: undefined, problems: ['the outbox table could not be read: PostgreSQL did not answer within 200 ms'] });
  });

  it('PostgreSQL unreachable: the failures and the last error, and down', async () => {
    // A port that refuses: a listener closed again.
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    await new Promise((resolve) => server.close(resolve));
    const away = new pg.Pool({ ...PG, user, port, connectionTimeoutMillis: 500 });
    const r = new Outbox({ pool: away, table: 'wshub_outbox' }).relay(fx.hub, { retryMinMs: 20, retryMaxMs: 50 });
    cleanup.push(async () => {
      await r.close();
      await away.end();
    });
    r.on('error', () => {});
    await until('two failures', () => r.stats().failures >= 2);
    const health = await r.health();
    expect(health).toMatchObject({ ready: false, role: 'follower', pending: undefined, lastError: expect.stringMatching(/ECONNREFUSED/) });
    expect(health.failures).toBeGreaterThanOrEqual(2);
    expect(health.problems).toEqual([
      expect.stringMatching(/^PostgreSQL failed the relay \d+ time\(s\) in a row: .*ECONNREFUSED/),
      expect.stringMatching(/^the outbox table could not be read: .*ECONNREFUSED/),
    ]);
  });

  it("core's hubHealth(hub, { checks: [relay] }): not ready while PostgreSQL fails the relay, ready once it is back; stopped once closed", async () => {
    const { table } = await fresh();
    const proxy = await OutageProxy.start(PG);
    const viaProxy = new pg.Pool({ ...PG, user, port: proxy.port, connectionTimeoutMillis: 500 });
    viaProxy.on('error', () => {});
    const r = new Outbox({ pool: viaProxy, table }).relay(fx.hub, { pollIntervalMs: 50, retryMinMs: 20, retryMaxMs: 50 });
    r.on('error', () => {});
    cleanup.push(async () => {
      await r.close();
      await viaProxy.end();
      await proxy.close();
    });
    await until('the relay to lead', () => r.stats().active);
    expect(hubHealth(fx.hub, { checks: [r] })).toMatchObject({ ready: true, problems: [] });
    proxy.down();
    await until('two failures', () => r.stats().failures >= 2);
    const down = hubHealth(fx.hub, { checks: [r] });
    expect(down.ready).toBe(false);
    expect(down.problems).toEqual([expect.stringMatching(/^PostgreSQL failed the relay \d+ time\(s\) in a row: /)]);
    proxy.up();
    await until('the relay to be back', () => r.stats().failures === 0 && r.stats().active);
    expect(hubHealth(fx.hub, { checks: [r] })).toMatchObject({ ready: true, problems: [] });
    await r.close();
    expect(hubHealth(fx.hub, { checks: [r] }).problems).toEqual(['the relay is stopped (closed, or its hub is closing)']);
  });

  it('a closed relay is stopped, and down', async () => {
    const { outbox } = await fresh();
    const r = relay(outbox);
    await r.close();
    expect(await r.health()).toMatchObject({ ready: false, role: 'stopped', problems: ['the relay is stopped (closed, or its hub is closing)'] });
  });

  it.each([[{ timeoutMs: -1 }, /"timeoutMs" must be a non-negative number/], [{ maxPendingAgeSeconds: 'x' }, /"maxPendingAgeSeconds"/]])(
    'bad options (%j) are a TypeError naming them',
    async (options, message) => {
      const { outbox } = await fresh();
      const r = relay(outbox);
      await expect(r.health(options as never)).rejects.toThrow(message);
    },
  );
});
