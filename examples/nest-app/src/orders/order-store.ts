import { Injectable, NotFoundException } from '@nestjs/common';
import type { Queryable } from '@wshub/postgres';
import { DemoDatabase } from '../database/demo-database.js';
import { DEMO_ACCOUNTS } from '../demo-users.js';

export interface Order {
  id: number;
  /** The id of the user who placed it. */
  owner: string;
  status: string;
}

/** What the owner's and the admins' sockets watching the order get. */
export interface OrderUpdate {
  orderId: number;
  status: string;
}

const ADMINS = Object.values(DEMO_ACCOUNTS)
  .filter((account) => account.role === 'admin')
  .map((account) => account.id);

/** The demo's orders, a table in the demo's database. */
@Injectable()
export class OrderStore {
  constructor(private readonly database: DemoDatabase) {}

  async list(): Promise<Order[]> {
    const { db } = await this.database.ready();
    return ((await db.pool.query('SELECT id, owner, status FROM demo_orders ORDER BY id')) as { rows: Order[] }).rows;
  }

  async find(id: number): Promise<Order | undefined> {
    if (!Number.isSafeInteger(id) || Math.abs(id) > 2 ** 31 - 1) return undefined;
    const { db } = await this.database.ready();
    return ((await db.pool.query('SELECT id, owner, status FROM demo_orders WHERE id = $1', [id])) as { rows: Order[] }).rows[0];
  }

  /**
   * Changes an order's status and, in the same transaction, writes the
   * notification to the outbox: to the owner's sockets that watch the order
   * (or every order), and to each admin's. The relay sends it once the
   * transaction commits; with `rollback` the transaction is rolled back at
   * the end instead, and nothing is sent. Returns the order as it now is.
   */
  async setStatus(id: number, status: string, rollback = false): Promise<Order> {
    const order = await this.database.transaction(async (tx, outbox) => {
      const changed = await update(tx, id, status);
      const message: OrderUpdate = { orderId: changed.id, status: changed.status };
      for (const userId of new Set([changed.owner, ...ADMINS])) {
        await outbox.sendMessage(tx, userId, 'order-status', message, changed.id);
      }
      return changed;
    }, rollback);
    return rollback ? ((await this.find(id)) ?? order) : order;
  }
}

async function update(tx: Queryable, id: number, status: string): Promise<Order> {
  const { rows } = (await tx.query('UPDATE demo_orders SET status = $2 WHERE id = $1 RETURNING id, owner, status', [id, status])) as {
    rows: Order[];
  };
  if (!rows[0]) throw new NotFoundException(`order ${id} does not exist`);
  return rows[0];
}
