import { readFile } from 'node:fs/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { Outbox, type OutboxRelay, outboxSql, type RelayTarget } from '../src/index.js';
import { OutageProxy } from './outage-proxy.js';
import { findPostgres, type HubFixture, PG, rows, startHub, take, testSchema, transaction, until } from './support.js';

const user = await findPostgres();

describe.skipIf(!user)('Outbox with a real PostgreSQL and a real WsHub', () => {
  let db: Awaited<ReturnType<typeof testSchema>>;
  let pool: pg.Pool;
  let table: string;
  let outbox: Outbox;
  let fx: HubFixture | undefined;
  const relays: OutboxRelay[] = [];
  let n = 0;

  beforeAll(async () => {
    db = await testSchema(user!, 'main');
    pool = db.pool;
  });
  afterAll(async () => {
    await db?.drop();
  });

  // Each test gets its own table, so a row left by one cannot reach another.
  async function fresh(): Promise<Outbox> {
    table = `${db.schema}.outbox_${++n}`;
    outbox = new Outbox({ pool, table });
    await outbox.install();
    return outbox;
  }

  function relay(options: Parameters<Outbox['relay']>[1] = {}): OutboxRelay {
    const r = outbox.relay(fx!.hub, { pollIntervalMs: 100, retryMinMs: 20, retryMaxMs: 200, ...options });
    relays.push(r);
    return r;
  }

  afterEach(async () => {
    await Promise.all(relays.splice(0).map((r) => r.close()));
    await fx?.close();
    fx = undefined;
  });

  describe('install', () => {
    it('is idempotent: a second install, and two at once, leave one working table', async () => {
      await fresh();
      await outbox.install();
      await Promise.all([outbox.install(), outbox.install()]);
      await transaction(pool, (tx) => outbox.sendMessage(tx, 'u1', 'e', 1));
      expect(await rows(pool, table)).toEqual({ pending: 1, dead: 0 });
    });

    it('stats(): rows pending, the age of the oldest, dead-lettered', async () => {
      await fresh();
      expect(await outbox.stats()).toEqual({ pending: 0, oldestPendingSeconds: 0, deadLettered: 0 });
      await transaction(pool, (tx) => outbox.sendMessage(tx, 'u1', 'e', 1));
      await pool.query(`UPDATE ${table} SET created_at = now() - interval '90 seconds'`);
      await transaction(pool, (tx) => outbox.push(tx, 'e', 2));
      const stats = await outbox.stats();
      expect(stats).toMatchObject({ pending: 2, deadLettered: 0 });
      expect(stats.oldestPendingSeconds).toBeGreaterThanOrEqual(90);
      expect(stats.oldestPendingSeconds).toBeLessThan(120);
      await expect(new Outbox({ pool, table: `${db.schema}.nope` }).stats()).rejects.toThrow('run await outbox.install()');
    });

    it('exports the same SQL it runs, for migration tools', async () => {
      await fresh();
      expect(outbox.sql).toBe(outboxSql(table));
      expect(outboxSql()).toContain('CREATE TABLE IF NOT EXISTS "wshub_outbox"');
    });

    it('a missing table is an error naming outbox.install(), from sendMessage and from the relay', async () => {
      fx = await startHub();
      outbox = new Outbox({ pool, table: `${db.schema}.never_installed` });
      await expect(transaction(pool, (tx) => outbox.sendMessage(tx, 'u1', 'e', 1))).rejects.toThrow(
        `wshub outbox: the table "${db.schema}.never_installed" does not exist; run await outbox.install() once`,
      );
      const errors: Error[] = [];
      relay().on('error', (e) => errors.push(e));
      await until('the relay to report the missing table', () => errors.length > 0);
      expect(errors[0]!.message).toContain('run await outbox.install()');
    });
  });

  describe('errors with nobody listening', () => {
    it('do not crash the process: the relay keeps the last one in stats() and goes on', async () => {
      fx = await startHub();
      outbox = new Outbox({ pool, table: `${db.schema}.not_yet` });
      const r = relay();
      await until('the relay to meet the missing table', () => r.stats().lastError !== undefined);
      expect(r.stats().lastError!.message).toContain('run await outbox.install()');
      // It goes on trying: once the table exists, rows flow.
      table = `${db.schema}.not_yet`;
      await outbox.install();
      const client = await fx.connect('u1');
      await transaction(pool, (tx) => outbox.sendMessage(tx, 'u1', 'n', 1));
      expect((await take(client, 1))[0]!.data).toBe(1);
    });
  });

  describe('bad input is refused at call time, so the transaction can roll back', () => {
    it.each([
      ['data with a cycle', () => outbox.sendMessage(tx, 'u1', 'e', cyclic()), TypeError, 'the data of "e" is not JSON'],
      ['a BigInt', () => outbox.sendMessage(tx, 'u1', 'e', { n: 1n }), TypeError, 'the data of "e" is not JSON'],
      ['a function as data', () => outbox.sendMessage(tx, 'u1', 'e', () => 1), TypeError, 'not JSON, got function'],
      ['a push callback', () => outbox.push(tx, 'e', () => 1), TypeError, 'a callback cannot be stored'],
      ['more than maxBytes', () => outbox.sendMessage(tx, 'u1', 'e', 'x'.repeat(1024 * 1024)), RangeError, 'more than maxBytes (1048576)'],
      ['an empty user id', () => outbox.sendMessage(tx, '', 'e', 1), TypeError, '"userId" must be a non-empty string, got an empty string'],
      ['a user id that is not a string', () => outbox.disconnect(tx, 42 as never), TypeError, '"userId" must be a non-empty string, got number'],
      ['a lone surrogate in a user id', () => outbox.sendMessage(tx, 'u\uD800', 'e', 1), TypeError, 'well-formed UTF-16'],
      ['a reserved event name', () => outbox.push(tx, 'wshub:x', 1), TypeError, 'are the protocol\'s own'],
      ['an object as filter', () => outbox.sendMessage(tx, 'u1', 'e', 1, {} as never), TypeError, '"isWatchingOrPayload" must be'],
      ['no tx', () => outbox.sendMessage(undefined as never, 'u1', 'e', 1), TypeError, '"tx" must run the transaction\'s queries'],
    ])('%s', async (_name, call, type, message) => {
      await fresh();
      queries = 0;
      const write = call as () => Promise<void>;
      await expect(write()).rejects.toThrow(type);
      await expect(write()).rejects.toThrow(message);
      expect(queries).toBe(0);
    });

    it.each([
      [{ pool: {} }, 'option "pool" must be a pg Pool'],
      [{ pool: { connect() {}, query() {} }, table: 'a;drop' }, 'option "table" must be "name" or "schema.name"'],
      [{ pool: { connect() {}, query() {} }, maxBytes: 0 }, 'option "maxBytes" must be a positive integer, got 0'],
    ])('new Outbox(%j) throws a TypeError naming the option', (options, message) => {
      expect(() => new Outbox(options as never)).toThrow(message);
    });
  });

  describe('delivered if and only if the transaction commits', () => {
    it('a rolled-back transaction sends nothing; a committed one arrives', async () => {
      await fresh();
      fx = await startHub();
      const client = await fx.connect('u1');
      relay();
      await expect(
        transaction(pool, async (tx) => {
          await outbox.sendMessage(tx, 'u1', 'rolled-back', 1);
          await outbox.push(tx, 'rolled-back-push', 1);
          throw new Error('the app changed its mind');
        }),
      ).rejects.toThrow('the app changed its mind');
      await transaction(pool, async (tx) => {
        await outbox.sendMessage(tx, 'u1', 'order-status', { id: 42, status: 'shipped' });
        await outbox.push(tx, 'admin-alert', { text: 'order 42 shipped' });
      });
      const got = await take(client, 2);
      expect(got.map((m) => [m.event, m.data])).toEqual([
        ['order-status', { id: 42, status: 'shipped' }],
        ['admin-alert', { text: 'order 42 shipped' }],
      ]);
      await until('the table to be empty', async () => (await rows(pool, table)).pending === 0);
      await fx.hub.sendMessage('u1', 'end');
      expect((await client.next()).event).toBe('end');
    });

    it('keeps data as written (key order, null, no data) and the watch filter', async () => {
      await fresh();
      fx = await startHub();
      const client = await fx.connect('u1');
      await transaction(pool, async (tx) => {
        await outbox.sendMessage(tx, 'u1', 'a', { zeta: 1, alpha: 2 });
        await outbox.sendMessage(tx, 'u1', 'b', null);
        await outbox.sendMessage(tx, 'u1', 'c');
        await outbox.sendMessage(tx, 'u1', 'watched-only', 1, true);
        await outbox.sendMessage(tx, 'u1', 'd', 'last');
      });
      relay();
      const got = await take(client, 4);
      expect(got.map((m) => JSON.stringify(m))).toEqual([
        '{"event":"a","data":{"zeta":1,"alpha":2}}',
        '{"event":"b","data":null}',
        '{"event":"c"}',
        '{"event":"d","data":"last"}',
      ]);
    });

    it('disconnect closes the user\'s sockets with 4000 once the transaction commits', async () => {
      await fresh();
      fx = await startHub();
      const client = await fx.connect('u1');
      relay();
      await transaction(pool, (tx) => outbox.disconnect(tx, 'u1'));
      expect((await client.waitForClose()).code).toBe(4000);
    });
  });

  describe('wake-up', () => {
    it('LISTEN/NOTIFY wakes the relay at commit, long before its next poll', async () => {
      await fresh();
      fx = await startHub();
      const client = await fx.connect('u1');
      const r = relay({ pollIntervalMs: 60_000 });
      await until('the relay to lead', () => r.stats().active);
      // Its first round found nothing: now it sleeps for a minute unless notified.
      await new Promise((resolve) => setTimeout(resolve, 100));
      const started = Date.now();
      await transaction(pool, (tx) => outbox.sendMessage(tx, 'u1', 'n', 1));
      expect((await take(client, 1, 5000))[0]!.data).toBe(1);
      expect(Date.now() - started).toBeLessThan(5000);
    });

    it('with listen: false (PgBouncer in transaction mode) polling alone delivers', async () => {
      await fresh();
      fx = await startHub();
      const client = await fx.connect('u1');
      const r = relay({ listen: false, pollIntervalMs: 200 });
      await until('the relay to lead', () => r.stats().active);
      await transaction(pool, (tx) => outbox.sendMessage(tx, 'u1', 'n', 1));
      expect((await take(client, 1))[0]!.data).toBe(1);
      const { rows: listening } = await pool.query(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND query LIKE 'LISTEN%'`,
        [`wshub-outbox-relay ${table}`.slice(0, 63)],
      );
      expect(listening).toEqual([{ n: 0 }]);
    });
  });

  describe('per-user order = commit order', () => {
    /**
     * The order in which transactions committed, as PostgreSQL saw it (the
     * order their COMMIT answers reach this process is not it: a backend can
     * release its locks, let the next transaction commit and answer, and only
     * then answer its own client). Each transaction, last thing before its
     * commit, bumps one counter row: its row lock is held until commit, so the
     * counter's values are commit order.
     */
    async function commitOrder(): Promise<(tx: pg.PoolClient) => Promise<number>> {
      const counter = `${table}_commit_order`;
      await pool.query(`CREATE TABLE ${counter} (n int NOT NULL); INSERT INTO ${counter} VALUES (0)`);
      return async (tx) => (await tx.query(`UPDATE ${counter} SET n = n + 1 RETURNING n`)).rows[0].n;
    }

    /** Per user, the `data` values in commit order. */
    function inCommitOrder(done: Array<{ u: string; k: number; n: number }>, u: string): number[] {
      return done
        .filter((d) => d.u === u)
        .sort((a, b) => a.n - b.n)
        .map((d) => d.k);
    }

    it('transactions whose ids are taken in one order and that commit in another arrive in commit order', async () => {
      await fresh();
      fx = await startHub();
      const users = ['u1', 'u2', 'u3'];
      const clients = await Promise.all(users.map((u) => fx!.connect(u)));
      const bump = await commitOrder();
      // 30 transactions at once, 10 per user, each holding its row a random
      // time before it commits. Without the outbox's locks, ids would be
      // taken in start order and commits would land in another order.
      const done = await Promise.all(
        Array.from({ length: 30 }, (_, k) =>
          transaction(pool, async (tx) => {
            const u = users[k % 3]!;
            await outbox.sendMessage(tx, u, 'n', k);
            await new Promise((r) => setTimeout(r, Math.random() * 30));
            return { u, k, n: await bump(tx) };
          }),
        ),
      );
      // The relay starts after every commit, so it reads all rows in one batch.
      relay();
      for (const [i, u] of users.entries()) {
        const got = await take(clients[i]!, 10);
        expect(got.map((m) => m.data)).toEqual(inCommitOrder(done, u));
      }
    });

    it('two relays at once: one is active, per-user order holds and nothing arrives twice', async () => {
      await fresh();
      fx = await startHub();
      const users = ['u1', 'u2'];
      const clients = await Promise.all(users.map((u) => fx!.connect(u)));
      const bump = await commitOrder();
      const first = relay({ batchSize: 7 });
      const second = relay({ batchSize: 7 });
      const done: Array<{ u: string; k: number; n: number }> = [];
      let k = 0;
      for (let wave = 0; wave < 6; wave++) {
        const batch = await Promise.all(
          Array.from({ length: 10 }, () => {
            const mine = k++;
            const u = users[mine % 2]!;
            return transaction(pool, async (tx) => {
              await outbox.sendMessage(tx, u, 'n', mine);
              return { u, k: mine, n: await bump(tx) };
            });
          }),
        );
        done.push(...batch);
      }
      for (const [i, u] of users.entries()) {
        const got = await take(clients[i]!, 30);
        expect(got.map((m) => m.data)).toEqual(inCommitOrder(done, u));
      }
      expect([first.stats().active, second.stats().active].sort()).toEqual([false, true]);
      await until('the table to be empty', async () => (await rows(pool, table)).pending === 0);
      await fx.hub.push('end');
      for (const c of clients) expect((await c.next()).event).toBe('end');
    });
  });

  describe('faults', () => {
    it('a row the hub refuses is dead-lettered with its error and the rows behind it go on', async () => {
      await fresh();
      // The hub's own limit is smaller than the outbox's, so the hub refuses this one row.
      fx = await startHub({ limits: { maxBufferedBytes: 4096 } });
      const client = await fx.connect('u1');
      const errors: Error[] = [];
      await transaction(pool, async (tx) => {
        await outbox.sendMessage(tx, 'u1', 'n', 1);
        await outbox.push(tx, 'big', 'x'.repeat(10_000));
        await outbox.sendMessage(tx, 'u1', 'n', 2);
      });
      const stored = `SELECT id, message_id, kind, user_id, event, data::text AS data, filter::text AS filter, created_at::text AS created_at, traceparent FROM ${table} WHERE event = 'big'`;
      const [big] = (await pool.query(stored)).rows;
      relay().on('error', (e) => errors.push(e));
      expect((await take(client, 2)).map((m) => m.data)).toEqual([1, 2]);
      // The batch is deleted as it is taken; the dead letter is put back, with its id, data and age, in the same transaction.
      await until('the dead row, and the sent ones deleted', async () => {
        const now = await rows(pool, table);
        return now.dead === 1 && now.pending === 0;
      });
      const { rows: dead } = await pool.query(`SELECT event, error FROM ${table} WHERE dead_at IS NOT NULL`);
      expect(dead).toEqual([{ event: 'big', error: expect.stringContaining('limits.maxBufferedBytes') }]);
      expect((await pool.query(stored)).rows).toEqual([big]);
      expect(errors.map((e) => e.message)).toEqual([expect.stringContaining('could not be delivered and was dead-lettered')]);
      expect(await rows(pool, table)).toEqual({ pending: 0, dead: 1 });
      expect(await outbox.stats()).toEqual({ pending: 0, oldestPendingSeconds: 0, deadLettered: 1 });
    });

    it('PostgreSQL ending the relay\'s connection: the relay reports it, connects again and loses nothing', async () => {
      await fresh();
      fx = await startHub();
      const client = await fx.connect('u1');
      const errors: Error[] = [];
      const r = relay({ onError: (e) => errors.push(e) });
      await transaction(pool, (tx) => outbox.sendMessage(tx, 'u1', 'n', 0));
      expect((await take(client, 1))[0]!.data).toBe(0);
      for (let round = 1; round <= 3; round++) {
        await until('the relay to be connected again', () => errors.length >= round - 1 && r.stats().active);
        const { rows: ended } = await pool.query(
          'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1',
          [`wshub-outbox-relay ${table}`.slice(0, 63)],
        );
        expect(ended).toEqual([{ pg_terminate_backend: true }]);
        await transaction(pool, (tx) => outbox.sendMessage(tx, 'u1', 'n', round));
      }
      expect((await take(client, 3)).map((m) => m.data)).toEqual([1, 2, 3]);
      expect(errors.length).toBeGreaterThanOrEqual(3);
      await until('four rows relayed and deleted', () => r.stats().relayed === 4);
      expect(await rows(pool, table)).toEqual({ pending: 0, dead: 0 });
    });

    it('the connection lost between sending a batch and committing its delete: the rows go again and the hub drops the repeats', async () => {
      await fresh();
      fx = await startHub();
      const hub = fx.hub;
      const client = await fx.connect('u1');
      await transaction(pool, async (tx) => {
        for (let i = 0; i < 20; i++) await outbox.sendMessage(tx, 'u1', 'n', i);
      });
      // The real hub, with one hook: on the 10th message PostgreSQL ends the
      // relay's session, so the batch's delete never commits (PostgreSQL rolls it back) after the hub took 10 rows.
      let calls = 0;
      const target = {
        sendMessage: async (...args: Parameters<typeof hub.sendMessage>) => {
          await hub.sendMessage(...args);
          if (++calls === 10) {
            await pool.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [
              `wshub-outbox-relay ${table}`.slice(0, 63),
            ]);
          }
        },
        push: hub.push.bind(hub),
        disconnect: hub.disconnect.bind(hub),
      };
      const errors: Error[] = [];
      const r = outbox.relay(target, { batchSize: 20, pollIntervalMs: 100, retryMinMs: 20 });
      relays.push(r);
      r.on('error', (e) => errors.push(e));
      expect((await take(client, 20)).map((m) => m.data)).toEqual([...Array(20).keys()]);
      await until('the table to be empty', async () => (await rows(pool, table)).pending === 0);
      expect(calls).toBeGreaterThan(20);
      expect(errors.length).toBeGreaterThan(0);
      await hub.sendMessage('u1', 'end');
      expect((await client.next()).event).toBe('end');
    });

    it('PostgreSQL away for a while: the relay retries with backoff, reports each failure, and delivers everything once it is back', async () => {
      await fresh();
      fx = await startHub();
      const client = await fx.connect('u1');
      const proxy = await OutageProxy.start(PG);
      const relayPool = new pg.Pool({ ...PG, port: proxy.port, user, max: 2 });
      relayPool.on('error', () => {});
      try {
        const errors: number[] = [];
        const r = new Outbox({ pool: relayPool, table }).relay(fx.hub, {
          pollIntervalMs: 100,
          retryMinMs: 50,
          retryMaxMs: 400,
          onError: () => errors.push(Date.now()),
        });
        relays.push(r);
        await transaction(pool, (tx) => outbox.sendMessage(tx, 'u1', 'n', 0));
        expect((await take(client, 1))[0]!.data).toBe(0);

        proxy.down();
        const downAt = Date.now();
        // The app goes on committing while the relay cannot reach PostgreSQL.
        for (let i = 1; i <= 5; i++) await transaction(pool, (tx) => outbox.sendMessage(tx, 'u1', 'n', i));
        await until('a few failed attempts', () => errors.length >= 4);
        await new Promise((resolve) => setTimeout(resolve, 1000));
        expect(client.unread).toEqual([]);
        expect(r.stats()).toMatchObject({ active: false });
        expect(r.stats().failures).toBeGreaterThanOrEqual(4);
        // Backoff, not a hot loop: 50, 100, 200, 400, 400… ms apart.
        const elapsed = Date.now() - downAt;
        expect(errors.length).toBeLessThan(elapsed / 50);

        proxy.up();
        expect((await take(client, 5)).map((m) => m.data)).toEqual([1, 2, 3, 4, 5]);
        await until('the relay to be healthy again', () => r.stats().failures === 0 && r.stats().active);
        await until('the table to be empty', async () => (await rows(pool, table)).pending === 0);
      } finally {
        await Promise.all(relays.splice(0).map((x) => x.close()));
        await relayPool.end();
        await proxy.close();
      }
    });

    it('a notification that came just before the connection broke does not turn the retries into a hot loop', async () => {
      await fresh();
      fx = await startHub();
      const hub = fx.hub;
      const client = await fx.connect('u1');
      const proxy = await OutageProxy.start(PG);
      const relayPool = new pg.Pool({ ...PG, port: proxy.port, user, max: 2 });
      relayPool.on('error', () => {});
      try {
        // The real hub, with one hook: the first message waits until the test
        // has made the relay's connection receive a NOTIFY, then lose PostgreSQL.
        let release!: () => void;
        const held = new Promise<void>((resolve) => {
          release = resolve;
        });
        let calls = 0;
        const target = {
          sendMessage: async (...args: Parameters<typeof hub.sendMessage>) => {
            if (++calls === 1) await held;
            return hub.sendMessage(...args);
          },
          push: hub.push.bind(hub),
          disconnect: hub.disconnect.bind(hub),
        };
        const errors: number[] = [];
        const r = new Outbox({ pool: relayPool, table }).relay(target, {
          pollIntervalMs: 100,
          retryMinMs: 50,
          retryMaxMs: 400,
          onError: () => errors.push(Date.now()),
        });
        relays.push(r);
        await transaction(pool, (tx) => outbox.sendMessage(tx, 'u1', 'n', 0));
        await until('the relay to hold the first row', () => calls === 1);
        // A commit while the round is in flight: its NOTIFY reaches the relay's connection.
        await transaction(pool, (tx) => outbox.sendMessage(tx, 'u1', 'n', 1));
        await new Promise((resolve) => setTimeout(resolve, 200));
        proxy.down();
        const downAt = Date.now();
        release();
        await new Promise((resolve) => setTimeout(resolve, 1000));
        const elapsed = Date.now() - downAt;
        // Backoff: 50, 100, 200, 400… ms apart, not one attempt after another.
        expect(errors.length).toBeGreaterThan(0);
        expect(errors.length).toBeLessThan(elapsed / 50);

        proxy.up();
        expect((await take(client, 2)).map((m) => m.data)).toEqual([0, 1]);
        await until('the table to be empty', async () => (await rows(pool, table)).pending === 0);
      } finally {
        await Promise.all(relays.splice(0).map((x) => x.close()));
        await relayPool.end();
        await proxy.close();
      }
    });

    it('a relay whose hub is closing stops and leaves the rows to a relay on another node', async () => {
      await fresh();
      fx = await startHub();
      const other = await startHub();
      try {
        const client = await other.connect('u1');
        const closingNode = relay();
        await until('the first node to lead', () => closingNode.stats().active);
        const standby = outbox.relay(other.hub, { pollIntervalMs: 100 });
        relays.push(standby);
        await fx.hub.close();
        await transaction(pool, async (tx) => {
          for (let i = 0; i < 5; i++) await outbox.sendMessage(tx, 'u1', 'n', i);
        });
        expect((await take(client, 5)).map((m) => m.data)).toEqual([0, 1, 2, 3, 4]);
        expect(closingNode.stats()).toMatchObject({ active: false, relayed: 0 });
        expect(standby.stats().active).toBe(true);
      } finally {
        await Promise.all(relays.splice(0).map((r) => r.close()));
        await other.close();
      }
    });

    it('a hub that starts closing mid-batch: the rows it did not take go back to the table as they were, for another node', async () => {
      await fresh();
      fx = await startHub();
      const other = await startHub();
      try {
        const client = await other.connect('u1');
        await transaction(pool, async (tx) => {
          for (let i = 0; i < 10; i++) await outbox.sendMessage(tx, 'u1', 'n', { i, text: 'é "quoted"' });
        });
        const stored = `SELECT id, message_id, kind, user_id, event, data::text AS data, filter::text AS filter, created_at::text AS created_at, traceparent, dead_at FROM ${table} ORDER BY id`;
        const before = (await pool.query(stored)).rows;
        // The first node's hub takes four rows, then says it is closing.
        const hub = fx.hub;
        let taken = 0;
        const closing: RelayTarget = {
          sendMessage: (...args) => {
            taken++;
            return hub.sendMessage(...(args as Parameters<typeof hub.sendMessage>));
          },
          push: (...args) => hub.push(...(args as Parameters<typeof hub.push>)),
          disconnect: (userId) => hub.disconnect(userId),
          get isClosing() {
            return taken >= 4;
          },
        };
        const closingNode = outbox.relay(closing, { pollIntervalMs: 100 });
        relays.push(closingNode);
        await until('the first node to take four rows', () => taken === 4);
        await closingNode.close();
        expect(closingNode.stats()).toMatchObject({ active: false, relayed: 4, deadLettered: 0 });
        expect((await pool.query(stored)).rows).toEqual(before.slice(4));
        const standby = outbox.relay(other.hub, { pollIntervalMs: 100 });
        relays.push(standby);
        expect((await take(client, 6)).map((m) => (m.data as { i: number }).i)).toEqual([4, 5, 6, 7, 8, 9]);
        await until('the standby to count its rows', () => standby.stats().relayed === 6);
        expect(await rows(pool, table)).toEqual({ pending: 0, dead: 0 });
      } finally {
        await Promise.all(relays.splice(0).map((r) => r.close()));
        await other.close();
      }
    });

    it('a connection release that throws is reported; close() still resolves', async () => {
      await fresh();
      fx = await startHub();
      // The real pool, with one hook: releasing the relay's connection throws after releasing it.
      const hooked = {
        query: pool.query.bind(pool),
        connect: async () => {
          const client = await pool.connect();
          const release = client.release.bind(client);
          client.release = (destroy?: boolean | Error) => {
            release(destroy);
            throw new Error('release failed');
          };
          return client;
        },
      };
      const errors: Error[] = [];
      const r = new Outbox({ pool: hooked, table }).relay(fx.hub, { onError: (e) => errors.push(e) });
      await until('the relay to lead', () => r.stats().active);
      await expect(r.close()).resolves.toBeUndefined();
      expect(errors.map((e) => e.message)).toEqual(['release failed']);
    });

    it('close() frees the leader lock: a standby takes over and the closed relay sends nothing more', async () => {
      await fresh();
      fx = await startHub();
      const client = await fx.connect('u1');
      const first = relay();
      await until('the first relay to lead', () => first.stats().active);
      const second = relay();
      await transaction(pool, (tx) => outbox.sendMessage(tx, 'u1', 'n', 1));
      expect((await take(client, 1))[0]!.data).toBe(1);
      await first.close();
      expect(first.stats().active).toBe(false);
      await until('the standby to lead', () => second.stats().active);
      await transaction(pool, (tx) => outbox.sendMessage(tx, 'u1', 'n', 2));
      expect((await take(client, 1))[0]!.data).toBe(2);
      await until('the standby to delete its row', () => second.stats().relayed === 1);
      expect(first.stats().relayed).toBe(1);
    });
  });
});

// The bad-input cases run against a transaction that counts its queries: none may run.
let queries = 0;
const tx = {
  query: async () => {
    queries++;
    return { rows: [] };
  },
};

function cyclic(): unknown {
  const a: Record<string, unknown> = {};
  a.self = a;
  return a;
}

describe('README', () => {
  it('quotes the SQL that install() runs and the example and recipe files as they are', async () => {
    const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
    const example = await readFile(new URL('../examples/ship-order.ts', import.meta.url), 'utf8');
    expect(readme).toContain(`\`\`\`sql\n${outboxSql()}\`\`\``);
    expect(readme).toContain(`\`\`\`ts\n${example}\`\`\``);
    for (const recipe of ['knex.ts', 'drizzle.ts']) {
      const text = await readFile(new URL(`../examples/${recipe}`, import.meta.url), 'utf8');
      expect(readme).toContain(`\`\`\`ts\n${text}\`\`\``);
    }
  });
});
