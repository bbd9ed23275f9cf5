/**
 * bench/src/outbox.mjs (the PostgreSQL outbox: commit → socket latency,
 * relay throughput beside a bare DELETE … RETURNING loop, the cost of one
 * sendMessage insert) runs end to end with tiny N. Timings are never
 * asserted. Needs the local PostgreSQL; skipped with one line without it,
 * except under CI.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { describe, expect, it } from 'vitest';

const SCRIPT = fileURLToPath(new URL('../src/outbox.mjs', import.meta.url));

async function postgresAnswers() {
  const config = { host: process.env.PGHOST ?? '127.0.0.1', port: Number(process.env.PGPORT ?? 5432), database: process.env.PGDATABASE ?? 'test' };
  for (const user of process.env.PGUSER ? [process.env.PGUSER] : ['postgres', 'root']) {
    const client = new pg.Client({ ...config, user, connectionTimeoutMillis: 3000 });
    try {
      await client.connect();
      await client.end();
      return true;
    } catch {
      await client.end().catch(() => {});
    }
  }
  if (process.env.CI) throw new Error('PostgreSQL did not answer at 127.0.0.1:5432/test: CI must run the outbox bench smoke');
  // biome-ignore lint/suspicious/noConsole: the one line that says why the smoke is skipped
  console.warn('bench outbox smoke skipped: no PostgreSQL at 127.0.0.1:5432/test.');
  return false;
}

const ready = await postgresAnswers();

describe.skipIf(!ready)('node bench/src/outbox.mjs (tiny)', () => {
  it('measures every row: latency samples, relay and bare-loop rates, insert costs', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [SCRIPT, '50', '1', '300', '20', '1,5', '--rounds=2', '--json'], { timeout: 55_000 });
    const result = JSON.parse(stdout.trim().split('\n').pop());
    expect(result.latency.map((l) => [l.perTx, l.n])).toEqual([
      [1, 50],
      [5, 50],
    ]);
    for (const l of result.latency) expect(l.p99).toBeGreaterThanOrEqual(l.p50);
    expect(result.throughput.rows).toBe(300);
    expect(result.throughput.relayPerSecond).toBeGreaterThan(0);
    expect(result.throughput.barePerSecond).toBeGreaterThan(0);
    expect(result.throughput.rounds).toHaveLength(2);
    for (const pair of result.throughput.rounds) expect(pair.relayPerSecond * pair.barePerSecond).toBeGreaterThan(0);
    expect(result.cost.n).toBe(20);
    expect(result.cost.sendMessageUs.n).toBe(20);
    expect(result.cost.ownInsertUs.n).toBe(20);
    expect(result.loadavg).toHaveLength(3);
  }, 60_000);
});
