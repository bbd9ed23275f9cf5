// The outbox with Prisma 7 (the `prisma-client` generator and the
// `@prisma/adapter-pg` driver adapter): the order row and the notification
// commit (or roll back) together, in one interactive `$transaction`. The
// transaction client's `$executeRawUnsafe(sql, ...values)` takes the
// outbox's `$1` parameters as they are. Run by test/recipes.test.ts against
// a real PostgreSQL and WsHub, with a client generated from
// examples/prisma/schema.prisma.
import type { Outbox } from '@wshub/postgres';

/** What the recipe uses of a Prisma transaction client (`Prisma.TransactionClient` of your generated client). */
export interface PrismaTransaction {
  $executeRawUnsafe(query: string, ...values: unknown[]): Promise<number>;
  order: {
    update(args: { where: { id: number }; data: { status: string } }): Promise<{ ownerId: string }>;
  };
}

/** What the recipe uses of a `PrismaClient`. */
export interface PrismaLike {
  $transaction<T>(run: (tx: PrismaTransaction) => Promise<T>): Promise<T>;
}

/** A Prisma transaction client as the outbox's `tx`: `query(sql, params)` through `$executeRawUnsafe`. */
export function prismaTx(tx: Pick<PrismaTransaction, '$executeRawUnsafe'>) {
  return {
    query: (sql: string, params: unknown[] = []) => tx.$executeRawUnsafe(sql, ...params),
  };
}

export async function shipOrder(prisma: PrismaLike, outbox: Outbox, orderId: number): Promise<void> {
  await prisma.$transaction(async (tx) => {
    // Throws (P2025) when there is no such order: the transaction rolls back.
    const order = await tx.order.update({ where: { id: orderId }, data: { status: 'shipped' } });
    await outbox.sendMessage(prismaTx(tx), order.ownerId, 'order-status', { id: orderId, status: 'shipped' }, orderId);
  });
}
