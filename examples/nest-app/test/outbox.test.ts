// Changing an order's status goes through the @wshub/postgres outbox, in the
// transaction that updates the order: on the embedded PGlite the demo opens by
// default, and on a real PostgreSQL given as DATABASE_URL (127.0.0.1:5432/test,
// in a schema of this file's own, dropped after).
import 'reflect-metadata';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { connectTestClient, type TestClient } from '@wshub/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compiled } from './compiled.js';

const PG = { host: '127.0.0.1', port: 5432, database: 'test' };

/** The user to reach the machine's PostgreSQL as, or undefined (with one line saying so) when none answers; under CI it must. */
async function findPostgres(): Promise<string | undefined> {
  const errors: string[] = [];
  for (const user of process.env.PGUSER ? [process.env.PGUSER] : ['postgres', 'root']) {
    const client = new pg.Client({ ...PG, user, connectionTimeoutMillis: 3000 });
    try {
      await client.connect();
      await client.end();
      return user;
    } catch (error) {
      errors.push(`${user}: ${(error as Error).message}`);
      await client.end().catch(() => {});
    }
  }
  const why = `PostgreSQL at ${PG.host}:${PG.port}/${PG.database} did not answer (${errors.join('; ')})`;
  if (process.env.CI) throw new Error(`${why}; CI must run the demo on PostgreSQL`);
  // biome-ignore lint/suspicious/noConsole: the one line that says why these tests are skipped
  console.warn(`demo outbox tests on PostgreSQL skipped: ${why}.`);
  return undefined;
}

const pgUser = await findPostgres();

/** The demo app in this process, its database opened, with `env` set while it starts. */
async function startApp(env: Record<string, string | undefined>): Promise<{ app: INestApplication; base: string }> {
  const saved = { DATABASE_URL: process.env.DATABASE_URL };
  Object.assign(process.env, env);
  for (const [key, value] of Object.entries(env)) if (value === undefined) delete process.env[key];
  try {
    const { AppModule } = await compiled<typeof import('../src/app.module.js')>('app.module.js');
    const app = await NestFactory.create(AppModule, { logger: ['error'] });
    await app.listen(0, '127.0.0.1');
    const base = (await app.getUrl()).replace('[::1]', '127.0.0.1');
    return { app, base };
  } finally {
    if (saved.DATABASE_URL === undefined) delete process.env.DATABASE_URL;
    else process.env.DATABASE_URL = saved.DATABASE_URL;
  }
}

interface OutboxStatus {
  state: string;
  database: string;
  pending?: number;
  relayed?: number;
}

function suite(name: string, env: () => Promise<{ env: Record<string, string | undefined>; database: RegExp; drop?(): Promise<void> }>) {
  describe(name, () => {
    let app: INestApplication;
    let base: string;
    let drop: (() => Promise<void>) | undefined;
    let database: RegExp;
    const clients: TestClient[] = [];

    const outbox = async () => (await (await fetch(`${base}/demo/outbox`)).json()) as OutboxStatus;
    const post = (path: string, body: unknown) =>
      fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

    beforeAll(async () => {
      const setup = await env();
      drop = setup.drop;
      database = setup.database;
      ({ app, base } = await startApp(setup.env));
      // The database opens in the background; the orders wait for it.
      expect((await fetch(`${base}/orders`)).status).toBe(200);
    }, 90_000);

    afterAll(async () => {
      await Promise.all(clients.splice(0).map((client) => client.close()));
      await app?.close();
      await drop?.();
    });

    async function signIn(token: string): Promise<TestClient> {
      const client = await connectTestClient(`${base.replace('http', 'ws')}/api/v1/ws`, { query: { token, device: 'outbox-test' } });
      clients.push(client);
      return client;
    }

    it('opens the database it says it does', async () => {
      expect(await outbox()).toMatchObject({ state: 'ready', database: expect.stringMatching(database), pending: expect.any(Number) });
    });

    it('a committed change reaches the owner and the admin through the outbox; a rolled-back one sends nothing and changes nothing', async () => {
      const bob = await signIn('bob-token');
      const alice = await signIn('alice-token');
      expect(await bob.watch('order-status', 43)).toBe('allowed');
      expect(await alice.watch('order-status')).toBe('allowed');
      const before = (await outbox()).relayed!;

      const rolledBack = await post('/orders/43/status', { status: 'lost', rollback: true });
      expect(rolledBack.status).toBe(202);
      expect(await rolledBack.json()).toMatchObject({ id: 43, status: 'packed' });
      expect((await post('/orders/43/status', { status: 'shipped' })).status).toBe(202);

      // The first message after the rolled-back change is the committed one: 'lost' was never sent.
      expect(await bob.next('order-status')).toEqual({ event: 'order-status', data: { orderId: 43, status: 'shipped' }, id: expect.any(String) });
      expect(await alice.next('order-status')).toEqual({ event: 'order-status', data: { orderId: 43, status: 'shipped' }, id: expect.any(String) });
      await Promise.all([bob.sync(), alice.sync()]);
      expect(bob.messages.filter((m) => m.event === 'order-status')).toHaveLength(1);
      expect(alice.messages.filter((m) => m.event === 'order-status')).toHaveLength(1);
      // Two rows (bob's, alice's) went through the relay, none is left.
      await expect.poll(async () => (await outbox()).relayed).toBe(before + 2);
      expect(((await (await fetch(`${base}/orders`)).json()) as Array<{ id: number; status: string }>).find((o) => o.id === 43)?.status).toBe(
        'shipped',
      );
    });

    it('an unknown order rolls back with 404 and writes nothing to the outbox', async () => {
      const before = await outbox();
      expect((await post('/orders/999/status', { status: 'shipped' })).status).toBe(404);
      expect((await post('/orders/42/status', { status: 'shipped', rollback: 'yes' })).status).toBe(400);
      const after = await outbox();
      expect({ pending: after.pending, relayed: after.relayed }).toEqual({ pending: 0, relayed: before.relayed });
    });
  });
}

suite('on the embedded PGlite (no DATABASE_URL)', async () => ({ env: { DATABASE_URL: undefined }, database: /^embedded PostgreSQL \(PGlite/ }));

describe.skipIf(!pgUser)('with DATABASE_URL', () => {
  suite('on PostgreSQL at 127.0.0.1:5432/test, a schema of its own', async () => {
    const schema = `demo_outbox_${process.pid}_${Math.floor(Math.random() * 1e6)}`;
    const admin = new pg.Client({ ...PG, user: pgUser });
    await admin.connect();
    await admin.query(`CREATE SCHEMA "${schema}"`);
    const url = `postgres://${pgUser}@${PG.host}:${PG.port}/${PG.database}?options=${encodeURIComponent(`-c search_path=${schema}`)}`;
    return {
      env: { DATABASE_URL: url },
      database: /^PostgreSQL at 127\.0\.0\.1:5432\/test$/,
      async drop() {
        await admin.query(`DROP SCHEMA "${schema}" CASCADE`);
        await admin.end();
      },
    };
  });
});
