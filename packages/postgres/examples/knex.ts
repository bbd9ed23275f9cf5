// The outbox with Knex: the order row and the notification commit (or roll
// back) together. Knex writes `?` for parameters where the outbox writes
// `$1`, so a small adapter turns the one into the other. Run by
// test/recipes.test.ts against a real PostgreSQL and WsHub.
import type { Outbox } from '@wshub/postgres';
import type { Knex } from 'knex';

/** A Knex transaction as the outbox's `tx`: `query(sql, params)` through `trx.raw`. */
export function knexTx(trx: Knex.Transaction) {
  return {
    query(sql: string, params: unknown[] = []) {
      // `$2` may appear twice: each occurrence becomes a `?` with its own binding.
      const bindings: unknown[] = [];
      const text = sql.replace(/\$(\d+)/g, (_, n: string) => {
        bindings.push(params[Number(n) - 1]);
        return '?';
      });
      return trx.raw(text, bindings as Knex.RawBinding[]);
    },
  };
}

export async function shipOrder(knex: Knex, outbox: Outbox, orderId: number): Promise<void> {
  await knex.transaction(async (trx) => {
    const [order] = await trx('orders').where({ id: orderId }).update({ status: 'shipped' }, ['owner_id']);
    if (!order) throw new Error(`no order ${orderId}`);
    await outbox.sendMessage(knexTx(trx), order.owner_id, 'order-status', { id: orderId, status: 'shipped' }, orderId);
  });
}
