import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { context, SpanKind, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { WsHub } from '@wshub/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { RedisBroker } from '../src/index.js';
import { waitUntil } from './hub-process.js';
import { RedisServer, redisSkipReason } from './redis-server.js';

/** One message, two nodes, real Redis between them, the real OpenTelemetry SDK: one trace. */
const skip = redisSkipReason();

function authenticate(req: IncomingMessage) {
  const id = new URL(req.url ?? '/', 'http://localhost').searchParams.get('user') ?? 'anonymous';
  return { id, deviceFingerprint: 'device-1' };
}

describe.skipIf(skip)(skip ?? 'tracing across nodes over Redis', () => {
  let redis: RedisServer;
  const exporter = new InMemorySpanExporter();
  const cleanup: Array<() => Promise<unknown> | unknown> = [];

  beforeAll(async () => {
    redis = await RedisServer.start();
    trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  });

  afterAll(async () => {
    for (const step of cleanup.reverse()) await step();
    trace.disable();
    context.disable();
    await redis?.kill();
  });

  async function node(): Promise<{ hub: WsHub<{ id: string; deviceFingerprint: string }>; url: string }> {
    const hub = new WsHub({ authenticate, broker: new RedisBroker({ url: redis.url }) });
    const server: Server = createServer();
    hub.attach(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    cleanup.push(
      () => hub.close(),
      () => new Promise((resolve) => server.close(resolve)),
    );
    await waitUntil(() => hub.stats().broker.subscribed! >= 2, 'the broker to subscribe');
    return { hub, url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}${hub.path}` };
  }

  it('a sendMessage on node A reaches a socket on node B: B\'s wshub.deliver is a child of A\'s wshub.send', async () => {
    const a = await node();
    const b = await node();
    const subscribedBefore = b.hub.stats().broker.subscribed!;
    const ready = new Promise<void>((resolve) => b.hub.on('ready', () => resolve()));
    const socket = new WebSocket(`${b.url}?user=u1`);
    cleanup.push(() => socket.readyState === WebSocket.OPEN && socket.terminate());
    const frames: unknown[] = [];
    socket.on('message', (data) => frames.push(JSON.parse(String(data))));
    await ready;
    // B subscribes the user's channel once it holds the user.
    await waitUntil(() => b.hub.stats().broker.subscribed! > subscribedBefore, "B to subscribe u1's channel");

    const request = trace.getTracer('app').startSpan('POST /orders/7/ship');
    await context.with(trace.setSpan(context.active(), request), () => a.hub.sendMessage('u1', 'shipped', { order: 7 }));
    request.end();
    await waitUntil(() => frames.length === 1, 'the message on B');
    expect(frames).toEqual([{ event: 'shipped', data: { order: 7 } }]);
    await waitUntil(() => exporter.getFinishedSpans().some((s) => s.name === 'wshub.deliver'), 'the delivery span');

    const spans = exporter.getFinishedSpans();
    const send = spans.find((s) => s.name === 'wshub.send')!;
    const deliver = spans.find((s) => s.name === 'wshub.deliver')!;
    const traceId = request.spanContext().traceId;
    expect(spans.map((s) => s.spanContext().traceId)).toEqual(spans.map(() => traceId));
    expect(send.kind).toBe(SpanKind.PRODUCER);
    expect(send.parentSpanContext?.spanId).toBe(request.spanContext().spanId);
    expect(send.attributes).toMatchObject({ 'messaging.destination.name': 'shipped', 'wshub.sockets': 0 });
    expect(deliver.kind).toBe(SpanKind.CONSUMER);
    expect(deliver.parentSpanContext).toMatchObject({ spanId: send.spanContext().spanId, isRemote: true });
    expect(deliver.attributes).toMatchObject({ 'messaging.system': 'wshub', 'wshub.operation': 'sendMessage', 'wshub.sockets': 1 });
    // The default leaves user ids out of every span.
    for (const span of spans) expect(Object.keys(span.attributes).filter((k) => k.startsWith('user.'))).toEqual([]);
  });
});
