// The outbox with TypeORM (what `nest new` apps pick): the order row and
// the notification commit (or roll back) together. `EntityManager` and
// `QueryRunner` have `query(sql, params)`, so either is the outbox's `tx`.
// Run by test/recipes.test.ts against a real PostgreSQL and WsHub.
import type { Outbox } from '@wshub/postgres';
import { Column, type DataSource, Entity, PrimaryColumn } from 'typeorm';

@Entity('orders')
export class Order {
  @PrimaryColumn('int')
  id!: number;

  @Column('text', { name: 'owner_id' })
  ownerId!: string;

  @Column('text')
  status!: string;
}

/** With `dataSource.transaction`: TypeORM commits when the callback returns, rolls back when it throws. */
export async function shipOrder(dataSource: DataSource, outbox: Outbox, orderId: number): Promise<void> {
  await dataSource.transaction(async (manager) => {
    const order = await manager.findOneBy(Order, { id: orderId });
    if (!order) throw new Error(`no order ${orderId}`);
    await manager.update(Order, orderId, { status: 'shipped' });
    await outbox.sendMessage(manager, order.ownerId, 'order-status', { id: orderId, status: 'shipped' }, orderId);
  });
}

/** With a `QueryRunner`, where the app drives the transaction itself. */
export async function shipOrderWithRunner(dataSource: DataSource, outbox: Outbox, orderId: number): Promise<void> {
  const runner = dataSource.createQueryRunner();
  await runner.startTransaction();
  try {
    const order = await runner.manager.findOneBy(Order, { id: orderId });
    if (!order) throw new Error(`no order ${orderId}`);
    await runner.manager.update(Order, orderId, { status: 'shipped' });
    await outbox.sendMessage(runner, order.ownerId, 'order-status', { id: orderId, status: 'shipped' }, orderId);
    await runner.commitTransaction();
  } catch (error) {
    await runner.rollbackTransaction();
    throw error;
  } finally {
    await runner.release();
  }
}
