import { context, type Span, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Outbox, type OutboxRelay } from '../src/index.js';
import { findPostgres, type HubFixture, startHub, testSchema, transaction, until } from './support.js';

/**
 * The outbox and traces: the row keeps the traceparent of the span that
 * wrote it; the relay's wshub.send (in a trace of its own, later) links to
 * it. A real PostgreSQL, a real WsHub, the real OpenTelemetry SDK.
 */
const user = await findPostgres();

describe.skipIf(!user)('outbox tracing', () => {
  let db: Awaited<ReturnType<typeof testSchema>>;
  let pool: pg.Pool;
  let exporter: InMemorySpanExporter;
  let fx: HubFixture | undefined;
  let relay: OutboxRelay | undefined;
  let n = 0;

  beforeAll(async () => {
    db = await testSchema(user!, 'tracing');
    pool = db.pool;
  });
  afterAll(async () => {
    await db?.drop();
  });
  beforeEach(() => {
    exporter = new InMemorySpanExporter();
    trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  });
  afterEach(async () => {
    await relay?.close();
    relay = undefined;
    await fx?.close();
    fx = undefined;
    trace.disable();
    context.disable();
  });

  async function fresh(): Promise<{ outbox: Outbox; table: string }> {
    const table = `${db.schema}.outbox_${++n}`;
    const outbox = new Outbox({ pool, table });
    await outbox.install();
    return { outbox, table };
  }

  /** Runs `body` in the app's span (as an HTTP request's would be), ended after. */
  function inRequest<T>(body: (span: Span) => Promise<T>): Promise<T> {
    return trace.getTracer('app').startActiveSpan('POST /orders/7/ship', async (span) => {
      try {
        return await body(span);
      } finally {
        span.end();
      }
    });
  }

  const sends = () => exporter.getFinishedSpans().filter((s) => s.name === 'wshub.send');

  it('a row written in a traced request keeps its traceparent; the relay\'s wshub.send links to that span', async () => {
    const { outbox, table } = await fresh();
    fx = await startHub();
    const client = await fx.connect('u1');
    const request = await inRequest(async (span) => {
      await transaction(pool, async (tx) => {
        await outbox.sendMessage(tx, 'u1', 'order-status', { id: 7 });
        await outbox.push(tx, 'news', 'hi');
      });
      return span.spanContext();
    });
    const stored = await pool.query(`SELECT traceparent FROM ${table} ORDER BY id`);
    expect(stored.rows.map((r) => r.traceparent)).toEqual(Array(2).fill(`00-${request.traceId}-${request.spanId}-01`));

    relay = outbox.relay(fx.hub, { pollIntervalMs: 100 });
    expect(await client.next()).toEqual({ event: 'order-status', data: { id: 7 } });
    expect(await client.next()).toEqual({ event: 'news', data: 'hi' });
    await until('the relay\'s two sends', () => sends().length === 2);
    for (const send of sends()) {
      expect(send.links.map((l) => l.context)).toEqual([expect.objectContaining({ traceId: request.traceId, spanId: request.spanId })]);
      // Sent later, by the relay: a trace of its own, not a child of the finished request.
      expect(send.spanContext().traceId).not.toBe(request.traceId);
    }
    expect(sends().map((s) => s.attributes['wshub.operation'])).toEqual(['sendMessage', 'push']);
  });

  it('a row written with no span active has none, and its wshub.send no link', async () => {
    const { outbox, table } = await fresh();
    fx = await startHub();
    const client = await fx.connect('u1');
    await transaction(pool, (tx) => outbox.sendMessage(tx, 'u1', 'e', 1));
    expect((await pool.query(`SELECT traceparent FROM ${table}`)).rows).toEqual([{ traceparent: null }]);
    relay = outbox.relay(fx.hub, { pollIntervalMs: 100 });
    expect(await client.next()).toEqual({ event: 'e', data: 1 });
    await until('the relay\'s send', () => sends().length === 1);
    expect(sends()[0]!.links).toEqual([]);
  });

  it('a traceparent column that holds something else is ignored: the row is sent, not dead-lettered', async () => {
    const { outbox, table } = await fresh();
    fx = await startHub();
    const client = await fx.connect('u1');
    await transaction(pool, (tx) => outbox.sendMessage(tx, 'u1', 'e', 1));
    await pool.query(`UPDATE ${table} SET traceparent = 'not a traceparent'`);
    relay = outbox.relay(fx.hub, { pollIntervalMs: 100 });
    expect(await client.next()).toEqual({ event: 'e', data: 1 });
    await until('the relay\'s send', () => sends().length === 1);
    expect(sends()[0]!.links).toEqual([]);
    expect(relay.stats().deadLettered).toBe(0);
  });

  it('install() upgrades a table made before the traceparent column, keeping its rows', async () => {
    const table = `${db.schema}.outbox_${++n}`;
    // The DDL of the version before, as a migration would have applied it.
    await pool.query(`CREATE TABLE ${table} (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  message_id uuid NOT NULL DEFAULT gen_random_uuid(),
  kind text NOT NULL CHECK (kind IN ('message', 'push', 'disconnect')),
  user_id text, event text, data json, filter json,
  created_at timestamptz NOT NULL DEFAULT now(), dead_at timestamptz, error text)`);
    await pool.query(`INSERT INTO ${table} (kind, user_id, event, data) VALUES ('message', 'u1', 'old', '1')`);
    const outbox = new Outbox({ pool, table });
    await outbox.install();
    await outbox.install();
    await inRequest(() => transaction(pool, (tx) => outbox.sendMessage(tx, 'u1', 'new', 2)));
    const stored = await pool.query(`SELECT event, traceparent FROM ${table} ORDER BY id`);
    expect(stored.rows).toEqual([
      { event: 'old', traceparent: null },
      { event: 'new', traceparent: expect.stringMatching(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/) },
    ]);
    fx = await startHub();
    const client = await fx.connect('u1');
    relay = outbox.relay(fx.hub, { pollIntervalMs: 100 });
    expect(await client.next()).toEqual({ event: 'old', data: 1 });
    expect(await client.next()).toEqual({ event: 'new', data: 2 });
  });
});
