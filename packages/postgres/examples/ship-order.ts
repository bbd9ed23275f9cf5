// The outbox in an app that uses `pg` directly: the order's status and the
// notification commit (or roll back) together; the relay sends it once
// committed. Run by test/example.test.ts against a real PostgreSQL and WsHub.
import type { WsHub } from '@wshub/core';
import { Outbox, type OutboxRelay } from '@wshub/postgres';
import type { Pool } from 'pg';

export async function startOutbox(
  pool: Pool,
  hub: WsHub,
  log: (error: Error) => void,
): Promise<{ outbox: Outbox; relay: OutboxRelay }> {
  const outbox = new Outbox({ pool });
  await outbox.install(); // or apply outbox.sql in a migration
  const relay = outbox.relay(hub);
  relay.on('error', log); // PostgreSQL away, a dead-lettered row: the relay goes on
  return { outbox, relay };
}

export async function shipOrder(pool: Pool, outbox: Outbox, orderId: number): Promise<void> {
  const tx = await pool.connect();
  try {
    await tx.query('BEGIN');
    const { rows } = await tx.query('UPDATE orders SET status = $1 WHERE id = $2 RETURNING owner_id', ['shipped', orderId]);
    const ownerId: string = rows[0].owner_id;
    // To the owner's sockets that watch this order (as hub.sendMessage's last argument).
    await outbox.sendMessage(tx, ownerId, 'order-status', { id: orderId, status: 'shipped' }, orderId);
    await outbox.push(tx, 'admin-alert', { text: `order ${orderId} shipped` });
    await tx.query('COMMIT');
  } catch (error) {
    await tx.query('ROLLBACK');
    throw error;
  } finally {
    tx.release();
  }
}

// On shutdown: stop the relay before the hub and the pool.
export async function stop(relay: OutboxRelay, hub: WsHub, pool: Pool): Promise<void> {
  await relay.close();
  await hub.close();
  await pool.end();
}
