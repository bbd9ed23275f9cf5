/**
 * Traces in a real Nest app: the HTTP request's span reaches wshub.send
 * through CommandBus.execute and the command handler, by the
 * AsyncLocalStorage context manager that @opentelemetry/sdk-node
 * registers. The request's span is made the way the HTTP instrumentation
 * makes it: active (context.with) for the whole handling of the request,
 * ended when the response finishes.
 */
import 'reflect-metadata';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { context, type Span, SpanKind, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { Controller, HttpCode, Module, Param, Post } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { PushCommand, SendMessageCommand, WsModule } from '@wshub/nest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenAuthHandler } from './fixtures/token-auth.handler.js';
import { type RunningApp, startApp } from './support/start-app.js';

@Controller('orders')
class OrdersController {
  constructor(private readonly commandBus: CommandBus) {}

  @Post(':id/ship')
  @HttpCode(204)
  async ship(@Param('id') id: string): Promise<void> {
    await this.commandBus.execute(new SendMessageCommand('alice', 'order.shipped', { id }));
    await this.commandBus.execute(new PushCommand('orders.changed', { id }));
  }
}

@Module({ imports: [WsModule.forRoot({ tracing: { userIds: 'include' } })], controllers: [OrdersController], providers: [TokenAuthHandler] })
class App {}

/** What the HTTP instrumentation does for each request: a SERVER span, active while the request is handled. */
function requestSpans(requests: Span[]) {
  return (req: IncomingMessage, res: ServerResponse, next: () => void) => {
    const span = trace.getTracer('http').startSpan(`${req.method} ${req.url}`, { kind: SpanKind.SERVER });
    requests.push(span);
    res.on('finish', () => span.end());
    context.with(trace.setSpan(context.active(), span), next);
  };
}

describe('traces in a Nest app: the HTTP request is the root', () => {
  const exporter = new InMemorySpanExporter();
  const requests: Span[] = [];
  let running: RunningApp;

  beforeAll(async () => {
    trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    running = await startApp(App, { configure: (app) => app.use(requestSpans(requests)) });
  });
  afterAll(async () => {
    await running?.close();
    trace.disable();
    context.disable();
  });

  it('a command handler\'s sendMessage and push are children of the request\'s span', async () => {
    const alice = running.connect('/api/v1/ws', 'user=alice');
    await alice.opened;
    // The socket's authentication has a span too: not a child of any request of the app.
    await expect.poll(() => exporter.getFinishedSpans().some((s) => s.name === 'wshub.authenticate')).toBe(true);

    const response = await fetch(running.httpUrl('/orders/7/ship'), { method: 'POST' });
    expect(response.status).toBe(204);
    expect(await alice.next()).toEqual({ event: 'order.shipped', data: { id: '7' } });
    expect(await alice.next()).toEqual({ event: 'orders.changed', data: { id: '7' } });

    const request = requests.find((s) => (s as unknown as ReadableSpan).name === 'POST /orders/7/ship')!;
    const byName = (name: string) => exporter.getFinishedSpans().filter((s) => s.name === name);
    const sends = byName('wshub.send');
    expect(sends.map((s) => s.attributes['wshub.operation'])).toEqual(['sendMessage', 'push']);
    // The module's `tracing` option reaches the hub.
    expect(sends[0]!.attributes['user.id']).toBe('alice');
    for (const send of sends) {
      expect(send.spanContext().traceId).toBe(request.spanContext().traceId);
      expect(send.parentSpanContext?.spanId).toBe(request.spanContext().spanId);
    }
    const [auth] = byName('wshub.authenticate');
    expect(auth!.spanContext().traceId).not.toBe(request.spanContext().traceId);
  });
});
