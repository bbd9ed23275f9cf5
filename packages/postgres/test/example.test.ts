import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shipOrder, startOutbox, stop } from '../examples/ship-order.js';
import { findPostgres, PG, startHub, take, testSchema } from './support.js';

const user = await findPostgres();

describe.skipIf(!user)('examples/ship-order.ts, as the README quotes it', () => {
  let db: Awaited<ReturnType<typeof testSchema>>;
  beforeAll(async () => {
    db = await testSchema(user!, 'example');
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('ships an order: the watching owner and everyone get their message; a failed transaction sends nothing', async () => {
    // The example uses the default table; the search path puts it in this file's schema.
    const pool = new pg.Pool({ ...PG, user, options: `-c search_path=${db.schema}` });
    await pool.query('CREATE TABLE orders (id int PRIMARY KEY, owner_id text NOT NULL, status text NOT NULL)');
    await pool.query(`INSERT INTO orders VALUES (42, 'alice', 'paid')`);
    const fx = await startHub();
    const errors: Error[] = [];
    const { outbox, relay } = await startOutbox(pool, fx.hub, (e) => errors.push(e));
    const alice = await fx.connect('alice');
    alice.watch('order-status', 42);
    // Frames are handled in order: once the hub has this marker, it has the watch.
    const marked = new Promise<void>((resolve) => fx.hub.on('message', (m) => m.event === 'marker' && resolve()));
    alice.emit('marker');
    await marked;

    await expect(shipOrder(pool, outbox, 7)).rejects.toThrow(); // no order 7: rolled back
    await shipOrder(pool, outbox, 42);
    const got = await take(alice, 2);
    expect(got.map((m) => [m.event, m.data])).toEqual([
      ['order-status', { id: 42, status: 'shipped' }],
      ['admin-alert', { text: 'order 42 shipped' }],
    ]);
    expect((await pool.query('SELECT status FROM orders WHERE id = 42')).rows).toEqual([{ status: 'shipped' }]);
    expect(errors).toEqual([]);
    await stop(relay, fx.hub, pool);
    await fx.close();
  });
});
