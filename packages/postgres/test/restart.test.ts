import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Outbox, type OutboxRelay } from '../src/index.js';
import { type PrivateCluster, privateCluster } from './private-cluster.js';
import { type HubFixture, rows, startHub, take, transaction, until } from './support.js';

// A cluster of its own: restarting the shared PostgreSQL would break every other suite.
const cluster = await privateCluster();

describe.skipIf(!cluster)('PostgreSQL restarted under the relay', () => {
  let db: PrivateCluster;
  let pool: pg.Pool;
  let fx: HubFixture | undefined;
  let relay: OutboxRelay | undefined;

  beforeAll(() => {
    db = cluster!;
    pool = new pg.Pool({ ...db.config, max: 4 });
    // Idle pooled connections that the restart ends emit 'error' on the pool.
    pool.on('error', () => {});
  });
  afterAll(async () => {
    await relay?.close();
    await fx?.close();
    await pool?.end();
    await db?.destroy();
  }, 60_000);

  it('rows committed before, during (failed, then retried) and after a restart arrive once, in order; the relay reports the outage and recovers by itself', async () => {
    const outbox = new Outbox({ pool });
    await outbox.install();
    fx = await startHub();
    const client = await fx.connect('u1');
    const errors: Error[] = [];
    relay = outbox.relay(fx.hub, { pollIntervalMs: 100, retryMinMs: 50, retryMaxMs: 400 });
    relay.on('error', (error) => errors.push(error));
    const send = (i: number) => transaction(pool, (tx) => outbox.sendMessage(tx, 'u1', 'n', i));

    for (let i = 0; i < 5; i++) await send(i);
    expect((await take(client, 5)).map((m) => m.data)).toEqual([0, 1, 2, 3, 4]);

    // Committed just before the stop: the relay may or may not have sent them yet.
    for (let i = 5; i < 10; i++) await send(i);
    await db.stop();
    // While PostgreSQL is down the app's transaction fails; it retries it until
    // PostgreSQL is back, as an app would (the rows stay in its own hands).
    await expect(send(10)).rejects.toThrow();
    await until('the relay to report the outage', () => errors.length > 0);
    expect(relay.stats().active).toBe(false);
    const restarted = new Promise((resolve) => setTimeout(resolve, 1000)).then(() => db.start());
    const retried: number[] = [];
    for (let i = 10; i < 15; i++) {
      for (;;) {
        try {
          await send(i);
          break;
        } catch {
          retried.push(i);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
    }
    await restarted;
    expect(retried).toContain(10);
    for (let i = 15; i < 20; i++) await send(i);

    const got = await take(client, 15, 30_000);
    expect(got.map((m) => m.data)).toEqual(Array.from({ length: 15 }, (_, i) => i + 5));
    await until('the relay to be healthy again', () => relay!.stats().failures === 0 && relay!.stats().active, 30_000);
    await until('the table to be empty', async () => (await rows(pool, 'wshub_outbox')).pending === 0);
    // Nothing twice: the next frame after the rows is the marker, not a repeat.
    await fx.hub.push('end');
    expect((await client.next()).event).toBe('end');
    expect(errors.length).toBeGreaterThan(0);
  }, 120_000);
});
