/** WsOutboxModule in a real NestJS app with WsModule: Outbox injectable, the relay started and stopped with the app. */
import 'reflect-metadata';
import type { AddressInfo } from 'node:net';
import { Module } from '@nestjs/common';
import { EventsHandler, type IEventHandler } from '@nestjs/cqrs';
import { NestFactory } from '@nestjs/core';
import { ClientConnectedEvent, WsHub, WsModule } from '@wshub/nest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Outbox } from '../src/index.js';
import { OutboxRelayHost, WsOutboxHealthIndicator, WsOutboxModule } from '../src/nest/index.js';
import { findPostgres, TestSocket, take, testSchema, transaction, until } from './support.js';

const user = await findPostgres();

@EventsHandler(ClientConnectedEvent)
class QueryAuth implements IEventHandler<ClientConnectedEvent> {
  handle(event: ClientConnectedEvent): void {
    const id = new URL(event.incomingMessage.url, 'http://localhost').searchParams.get('user');
    if (id) event.resolve({ id, deviceFingerprint: 'browser' });
    else event.reject(new Error('no user'));
  }
}

describe.skipIf(!user)('WsOutboxModule', () => {
  let db: Awaited<ReturnType<typeof testSchema>>;
  beforeAll(async () => {
    db = await testSchema(user!, 'nest');
  });
  afterAll(async () => {
    await db?.drop();
  });

  it.each(['forRoot', 'forRootAsync'] as const)(
    '%s: the injected Outbox writes in a transaction, the relay delivers, app.close() stops the relay',
    async (how) => {
      const table = `${db.schema}.outbox_${how}`;
      const options = { pool: db.pool, table, install: true, relay: { pollIntervalMs: 100 } };
      @Module({
        imports: [
          WsModule.forRoot(),
          how === 'forRoot' ? WsOutboxModule.forRoot(options) : WsOutboxModule.forRootAsync({ useFactory: async () => options }),
        ],
        providers: [QueryAuth],
      })
      class App {}
      const app = await NestFactory.create(App, { logger: false });
      await app.listen(0, '127.0.0.1');
      const { port } = app.getHttpServer().address() as AddressInfo;
      const ready = new Promise<void>((resolve) => app.get(WsHub).on('ready', () => resolve()));
      const client = new TestSocket(`ws://127.0.0.1:${port}/api/v1/ws?user=alice`);
      try {
        await Promise.all([client.opened, ready]);
        const outbox = app.get(Outbox);
        const host = app.get(OutboxRelayHost);
        await until('the relay to lead', () => host.current?.stats().active === true);
        await transaction(db.pool, (tx) => outbox.sendMessage(tx, 'alice', 'order-status', { id: 42, status: 'shipped' }));
        expect((await take(client, 1))[0]).toEqual({ event: 'order-status', data: { id: 42, status: 'shipped' } });
        await until('the row deleted', () => host.current?.stats().relayed === 1);
        const health = app.get(WsOutboxHealthIndicator);
        expect(await health.isHealthy()).toEqual({
          'wshub-outbox': { status: 'up', role: 'leader', pending: 0, oldestPendingSeconds: 0, deadLettered: 0, failures: 0, lastError: undefined, problems: [] },
        });
        await app.close();
        expect(host.current?.stats().active).toBe(false);
        expect(await health.isHealthy('outbox')).toMatchObject({ outbox: { status: 'down', role: 'stopped' } });
        const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1', [
          `wshub-outbox-relay ${table}`.slice(0, 63),
        ]);
        expect(rows).toEqual([{ n: 0 }]);
      } finally {
        client.ws.terminate();
        await app.close();
      }
    },
  );
});
