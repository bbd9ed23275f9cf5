import { Outbox, type OutboxRelay } from '@wshub/postgres';
import pg from 'pg';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectOutboxMetrics } from '../src/index.js';
import { type Fixture, scrape, startHub, until } from './support.js';

const PG = { host: '127.0.0.1', port: 5432, database: 'test' };

/** The user PostgreSQL answers to, or undefined (a skip outside CI; under CI the suite fails instead). */
async function findPostgres(): Promise<string | undefined> {
  for (const user of ['postgres', 'root']) {
    const client = new pg.Client({ ...PG, user, connectionTimeoutMillis: 3000 });
    try {
      await client.connect();
      await client.end();
      return user;
    } catch {
      await client.end().catch(() => {});
    }
  }
  const why = `PostgreSQL at ${PG.host}:${PG.port}/${PG.database} did not answer`;
  if (process.env.CI) throw new Error(`${why}; CI must run the outbox metrics tests`);
  // biome-ignore lint/suspicious/noConsole: the one line that says why the suite is skipped
  console.warn(`@wshub/prometheus outbox metrics tests skipped: ${why}.`);
  return undefined;
}

const user = await findPostgres();

describe.skipIf(!user)('collectOutboxMetrics(outbox, relay, { registry })', () => {
  const schema = `outbox_metrics_${process.pid}`;
  let pool: pg.Pool;
  let f: Fixture | undefined;
  let relay: OutboxRelay | undefined;
  beforeAll(async () => {
    pool = new pg.Pool({ ...PG, user, max: 4 });
    pool.on('error', () => {});
    await pool.query(`CREATE SCHEMA "${schema}"`);
  });
  afterAll(async () => {
    await relay?.close();
    await f?.close();
    await pool?.query(`DROP SCHEMA "${schema}" CASCADE`);
    await pool?.end();
  });

  it('reports pending rows and their age from the table, and what this relay sent, dead-lettered and whether it leads', async () => {
    const outbox = new Outbox({ pool, table: `${schema}.outbox` });
    await outbox.install();
    f = await startHub({ limits: { maxBufferedBytes: 4096 } });
    const registry = new Registry();
    await outbox.sendMessage(pool, 'u1', 'n', 1); // a statement of its own: committed at once
    const tx = await pool.connect();
    await tx.query('BEGIN');
    await outbox.sendMessage(tx, 'u1', 'n', 2);
    await outbox.push(tx, 'too-big-for-this-hub', 'x'.repeat(10_000));
    await tx.query('COMMIT');
    tx.release();
    await pool.query(`UPDATE "${schema}".outbox SET created_at = now() - interval '30 seconds'`);

    // No relay yet: only the table's numbers.
    const remove = collectOutboxMetrics(outbox, undefined, { registry });
    let s = await scrape(registry);
    expect([...s.families.keys()].sort()).toEqual(['wshub_outbox_dead_letter_rows', 'wshub_outbox_oldest_pending_seconds', 'wshub_outbox_pending_rows']);
    expect(s.value('wshub_outbox_pending_rows')).toBe(3);
    expect(s.value('wshub_outbox_oldest_pending_seconds')).toBeGreaterThanOrEqual(30);
    remove();

    relay = outbox.relay(f.hub, { pollIntervalMs: 100 });
    collectOutboxMetrics(outbox, relay, { registry });
    await until('the relay to send two rows and dead-letter one', () => relay!.stats().relayed === 2 && relay!.stats().deadLettered === 1);
    s = await scrape(registry);
    expect(s.value('wshub_outbox_pending_rows')).toBe(0);
    expect(s.value('wshub_outbox_oldest_pending_seconds')).toBe(0);
    expect(s.value('wshub_outbox_dead_letter_rows')).toBe(1);
    expect(s.value('wshub_outbox_relayed_total')).toBe(2);
    expect(s.value('wshub_outbox_dead_lettered_total')).toBe(1);
    expect(s.value('wshub_outbox_relay_active')).toBe(1);
    expect(s.value('wshub_outbox_relay_failures')).toBe(0);
  });

  it('a table it cannot read gives NaN, not a failed scrape', async () => {
    const registry = new Registry();
    collectOutboxMetrics(new Outbox({ pool, table: `${schema}.missing` }), undefined, { registry });
    const s = await scrape(registry);
    expect(s.value('wshub_outbox_pending_rows')).toBeNaN();
  });

  it.each([
    [null, undefined, 'collectOutboxMetrics(outbox) needs an Outbox, got null'],
    [{ stats: async () => ({}) }, {}, 'needs an OutboxRelay or undefined, got object'],
  ])('refuses bad arguments with a TypeError', (outbox, relayArg, message) => {
    expect(() => collectOutboxMetrics(outbox as never, relayArg as never, { registry: new Registry() })).toThrow(message);
  });
});
