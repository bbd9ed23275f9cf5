import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { drizzle } from 'drizzle-orm/node-postgres';
import knexFactory from 'knex';
import pg from 'pg';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as drizzleRecipe from '../examples/drizzle.js';
import * as knexRecipe from '../examples/knex.js';
import * as prismaRecipe from '../examples/prisma.js';
import * as typeormRecipe from '../examples/typeorm.js';
import { Outbox, type OutboxRelay } from '../src/index.js';
import { findPostgres, type HubFixture, PG, rows, startHub, take, testSchema, until } from './support.js';

const user = await findPostgres();

const require = createRequire(import.meta.url);
const SCHEMA = fileURLToPath(new URL('../examples/prisma/schema.prisma', import.meta.url));
const GENERATED = fileURLToPath(new URL('../node_modules/.prisma-recipe/client.ts', import.meta.url));

/**
 * `prisma generate` for the recipe's schema, as an app runs it. Generating
 * runs no engine, but the CLI first makes sure the schema engine binary is
 * there, and fetches it from Prisma's own host, which a machine that reaches
 * only the npm registry cannot: any file given as that binary stops the
 * fetch (generate never runs it).
 */
async function generatePrismaClient(): Promise<void> {
  await promisify(execFile)(process.execPath, [require.resolve('prisma/build/index.js'), 'generate', '--schema', SCHEMA], {
    env: { ...process.env, PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY ?? process.execPath, PRISMA_HIDE_UPDATE_MESSAGE: '1', CHECKPOINT_DISABLE: '1' },
    timeout: 120_000,
  });
}

describe.skipIf(!user)('the TypeORM, Knex, Drizzle and Prisma recipes, as the README quotes them', () => {
  let db: Awaited<ReturnType<typeof testSchema>>;
  let pool: pg.Pool;
  let outbox: Outbox;
  let fx: HubFixture;
  let relay: OutboxRelay;
  // Every connection, the recipes' own included, works in this file's schema.
  const connection = () => ({ ...PG, user, options: `-c search_path=${db.schema}` });

  beforeAll(async () => {
    db = await testSchema(user!, 'recipes');
    pool = new pg.Pool(connection());
    await pool.query('CREATE TABLE orders (id int PRIMARY KEY, owner_id text NOT NULL, status text NOT NULL)');
    await pool.query(`INSERT INTO orders VALUES (1, 'alice', 'paid'), (2, 'alice', 'paid'), (3, 'alice', 'paid'), (4, 'alice', 'paid'), (5, 'alice', 'paid')`);
    outbox = new Outbox({ pool });
    await outbox.install();
    fx = await startHub();
    relay = outbox.relay(fx.hub, { pollIntervalMs: 100 });
  });
  afterAll(async () => {
    await relay?.close();
    await fx?.close();
    await pool?.end();
    await db?.drop();
  });

  /**
   * A transaction that wrote a notification and then threw: nothing of it
   * is relayed. A marker committed after it is then the only row the relay
   * sends (a row written outside the transaction would be a second one).
   */
  async function expectRolledBack(run: () => Promise<unknown>) {
    const before = relay.stats().relayed;
    await expect(run()).rejects.toThrow('the app gives up');
    await outbox.push(pool, 'after-rollback', {});
    await until('the marker relayed', async () => relay.stats().relayed > before && (await rows(pool, 'wshub_outbox')).pending === 0);
    expect(relay.stats().relayed - before).toBe(1);
    expect(await rows(pool, 'wshub_outbox')).toEqual({ pending: 0, dead: 0 });
  }

  async function check(ship: (orderId: number) => Promise<void>, orderId: number) {
    const alice = await fx.connect('alice');
    // The recipes send to the owner's sockets that watch the order.
    alice.watch('order-status', orderId);
    // Frames are handled in order: once the hub has this marker, it has the watch.
    const marked = new Promise<void>((resolve) => fx.hub.on('message', (m) => m.event === 'marker' && resolve()));
    alice.emit('marker');
    await marked;
    // A failed transaction (no order 99) sends nothing and writes nothing.
    await expect(ship(99)).rejects.toThrow('no order 99');
    await ship(orderId);
    const [got] = await take(alice, 1);
    expect([got!.event, got!.data]).toEqual(['order-status', { id: orderId, status: 'shipped' }]);
    expect((await pool.query('SELECT status FROM orders WHERE id = $1', [orderId])).rows).toEqual([{ status: 'shipped' }]);
    await until('the outbox to be empty', async () => (await rows(pool, 'wshub_outbox')).pending === 0);
    // Nothing else came: the next frame is this marker.
    await fx.hub.push('end');
    expect((await alice.next()).event).toBe('end');
    alice.ws.close();
  }

  it('TypeORM: the order row and sendMessage in one dataSource.transaction, and through a QueryRunner', async () => {
    // The outbox's queries are raw SQL, found through the connection's search_path (as the other recipes' connections).
    const dataSource = new DataSource({ type: 'postgres', ...PG, username: user, extra: connection(), entities: [typeormRecipe.Order] });
    await dataSource.initialize();
    try {
      await check((id) => typeormRecipe.shipOrder(dataSource, outbox, id), 4);
      await check((id) => typeormRecipe.shipOrderWithRunner(dataSource, outbox, id), 5);
      await expectRolledBack(() =>
        dataSource.transaction(async (manager) => {
          await outbox.sendMessage(manager, 'alice', 'order-status', { id: 4 });
          throw new Error('the app gives up');
        }),
      );
    } finally {
      await dataSource.destroy();
    }
  });

  it('Knex: the order row and sendMessage in one knex.transaction', async () => {
    const knex = knexFactory({ client: 'pg', connection: connection() });
    try {
      await check((id) => knexRecipe.shipOrder(knex, outbox, id), 1);
      // A transaction that fails after sendMessage rolls the notification back too.
      await expectRolledBack(() =>
        knex.transaction(async (trx) => {
          await outbox.sendMessage(knexRecipe.knexTx(trx), 'alice', 'order-status', { id: 2 });
          throw new Error('the app gives up');
        }),
      );
    } finally {
      await knex.destroy();
    }
  });

  it('Drizzle: the order row and sendMessage in one db.transaction', async () => {
    const drizzlePool = new pg.Pool(connection());
    try {
      const orm = drizzle(drizzlePool);
      await check((id) => drizzleRecipe.shipOrder(orm, outbox, id), 3);
      await expectRolledBack(() =>
        orm.transaction(async (tx) => {
          await outbox.sendMessage(drizzleRecipe.drizzleTx(tx), 'alice', 'order-status', { id: 2 });
          throw new Error('the app gives up');
        }),
      );
    } finally {
      await drizzlePool.end();
    }
  });

  it('Prisma 7 (prisma-client generator, @prisma/adapter-pg): the order row and sendMessage in one $transaction', async () => {
    await generatePrismaClient();
    const { PrismaClient } = await import(GENERATED);
    const { PrismaPg } = await import('@prisma/adapter-pg');
    // Prisma names the schema in its queries (`public` unless told): this file's.
    const prisma = new PrismaClient({ adapter: new PrismaPg(connection(), { schema: db.schema }) });
    try {
      await check(async (id) => {
        try {
          await prismaRecipe.shipOrder(prisma, outbox, id);
        } catch (error) {
          // Prisma's P2025 for an order that is not there, as the other recipes' error.
          if ((error as { code?: string }).code === 'P2025') throw new Error(`no order ${id}`);
          throw error;
        }
      }, 2);
      await expectRolledBack(() =>
        prisma.$transaction(async (tx: prismaRecipe.PrismaTransaction) => {
          await outbox.sendMessage(prismaRecipe.prismaTx(tx), 'alice', 'order-status', { id: 3 });
          throw new Error('the app gives up');
        }),
      );
    } finally {
      await prisma.$disconnect();
    }
  }, 180_000);
});
