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
import { RedisCluster, RedisServer, redisSkipReason } from './redis-server.js';

/** One message, two nodes, real Redis between them, the real OpenTelemetry SDK: one trace. */
const skip = redisSkipReason();

function authenticate(req: IncomingMessage) {
  const id = new URL(req.url ?? '/', 'http://localhost').searchParams.get('user') ?? 'anonymous';
  return { id, deviceFingerprint: 'device-1' };
}

describe.skipIf(skip)(skip ?? 'tracing across nodes over Redis', () => {
  let redis: RedisServer;
  let cluster: RedisCluster;
  const exporter = new InMemorySpanExporter();
  const cleanup: Array<() => Promise<unknown> | unknown> = [];

  beforeAll(async () => {
    [redis, cluster] = await Promise.all([RedisServer.start(), RedisCluster.start(3, 0)]);
    trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  });

  afterAll(async () => {
    for (const step of cleanup.reverse()) await step();
    trace.disable();
    context.disable();
    await redis?.kill();
    await cluster?.close();
  });

  async function node(
    on: 'Redis' | 'Redis Cluster' | 'Redis, recovery on',
  ): Promise<{ hub: WsHub<{ id: string; deviceFingerprint: string }>; url: string }> {
    const broker = new RedisBroker(on === 'Redis Cluster' ? { cluster: cluster.nodes } : { url: redis.url });
    const hub = new WsHub({ authenticate, broker, recovery: on === 'Redis, recovery on' });
    const server: Server = createServer();
    hub.attach(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    cleanup.push(
      () => hub.close(),
      () => new Promise((resolve) => server.close(resolve)),
    );
    return { hub, url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}${hub.path}` };
  }

  it.each(['Redis', 'Redis Cluster', 'Redis, recovery on'] as const)('a sendMessage on node A reaches a socket on node B over %s: B\'s wshub.deliver is a child of A\'s wshub.send', async (on) => {
    const a = await node(on);
    const b = await node(on);
    const ready = new Promise<void>((resolve) => b.hub.on('ready', () => resolve()));
    const socket = new WebSocket(`${b.url}?user=u1`);
    cleanup.push(() => socket.readyState === WebSocket.OPEN && socket.terminate());
    const frames: Array<{ event: string }> = [];
    socket.on('message', (data) => frames.push(JSON.parse(String(data))));
    await ready;
    // B subscribes the user's channel once it holds the user: until then a message from A finds nobody.
    await waitUntil(async () => {
      await a.hub.sendMessage('u1', 'probe', null);
      return frames.length > 0;
    }, "B to subscribe u1's channel");

    const request = trace.getTracer('app').startSpan('POST /orders/7/ship');
    await context.with(trace.setSpan(context.active(), request), () => a.hub.sendMessage('u1', 'shipped', { order: 7 }));
    request.end();
    const traceId = request.spanContext().traceId;
    // Probes still in flight have traces of their own; this test is about the request's.
    const inTrace = () => exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
    await waitUntil(() => frames.some((f) => f.event === 'shipped'), 'the message on B');
    expect(frames.filter((f) => f.event !== 'probe')).toEqual([{ event: 'shipped', data: { order: 7 } }]);
    await waitUntil(() => inTrace().some((s) => s.name === 'wshub.deliver'), 'the delivery span');

    const spans = inTrace();
    const send = spans.find((s) => s.name === 'wshub.send')!;
    const deliver = spans.find((s) => s.name === 'wshub.deliver')!;
    expect(spans.map((s) => s.name).sort()).toEqual(['POST /orders/7/ship', 'wshub.deliver', 'wshub.send']);
    expect(send.kind).toBe(SpanKind.PRODUCER);
    expect(send.parentSpanContext?.spanId).toBe(request.spanContext().spanId);
    expect(send.attributes).toMatchObject({ 'messaging.destination.name': 'shipped' });
    // With recovery the history delivers, after the call: the send does not know the sockets.
    expect(send.attributes['wshub.sockets']).toBe(on === 'Redis, recovery on' ? undefined : 0);
    expect(deliver.kind).toBe(SpanKind.CONSUMER);
    expect(deliver.parentSpanContext).toMatchObject({ spanId: send.spanContext().spanId, isRemote: true });
    expect(deliver.attributes).toMatchObject({ 'messaging.system': 'wshub', 'wshub.operation': 'sendMessage', 'wshub.sockets': 1 });
    // With recovery the message travels as a record of the shared history, which gives it its offset.
    if (on === 'Redis, recovery on') expect(deliver.attributes['wshub.recovery.offset']).toEqual(expect.any(Number));
    else expect(deliver.attributes['wshub.recovery.offset']).toBeUndefined();
    // The default leaves user ids out of every span.
    for (const span of spans) expect(Object.keys(span.attributes).filter((k) => k.startsWith('user.'))).toEqual([]);
  });
});
