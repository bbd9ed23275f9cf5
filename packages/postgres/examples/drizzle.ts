// The outbox with Drizzle (node-postgres driver): the order row and the
// notification commit (or roll back) together. The outbox's SQL goes through
// `tx.execute`, with its `$1` parameters as Drizzle params. Run by
// test/recipes.test.ts against a real PostgreSQL and WsHub.
import type { Outbox } from '@wshub/postgres';
import { eq, type SQL, sql } from 'drizzle-orm';
import type { NodePgDatabase } from 'drizzle-orm/node-postgres';
import { integer, pgTable, text } from 'drizzle-orm/pg-core';

export const orders = pgTable('orders', {
  id: integer('id').primaryKey(),
  ownerId: text('owner_id').notNull(),
  status: text('status').notNull(),
});

/** A Drizzle transaction (or db) as the outbox's `tx`: `query(sql, params)` through `tx.execute`. */
export function drizzleTx(tx: { execute(query: SQL): Promise<unknown> }) {
  return {
    query(text: string, params: unknown[] = []) {
      const parts = text.split(/(\$\d+)/).map((part) => (/^\$\d+$/.test(part) ? sql.param(params[Number(part.slice(1)) - 1]) : sql.raw(part)));
      return tx.execute(sql.join(parts));
    },
  };
}

export async function shipOrder(db: NodePgDatabase, outbox: Outbox, orderId: number): Promise<void> {
  await db.transaction(async (tx) => {
    const [order] = await tx.update(orders).set({ status: 'shipped' }).where(eq(orders.id, orderId)).returning({ ownerId: orders.ownerId });
    if (!order) throw new Error(`no order ${orderId}`);
    await outbox.sendMessage(drizzleTx(tx), order.ownerId, 'order-status', { id: orderId, status: 'shipped' }, orderId);
  });
}
