/**
 * Traces under the real HTTP instrumentation: a Nest app (Express
 * platform) in a child process started with `--require` of the
 * OpenTelemetry Node tracer provider and `@opentelemetry/instrumentation-http`
 * (fixtures/http-instrumentation). A POST whose handler executes a
 * SendMessageCommand to a user connected by a real `ws` client is one
 * trace: the instrumentation's SERVER span → `wshub.send` → `wshub.deliver`
 * (the hub has `recovery` on, so its delivery of the recorded message is a
 * span of its own, as docs/OBSERVABILITY.md says).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { TestSocket } from '@wshub/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const fixtures = new URL('./fixtures/http-instrumentation/', import.meta.url);
const app = fileURLToPath(new URL('app.cjs', fixtures));
const preload = fileURLToPath(new URL('preload.cjs', fixtures));

interface SpanRecord {
  name: string;
  kind: number;
  scope: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  attributes: Record<string, unknown>;
}

const SERVER = 1;
const PRODUCER = 3;
const CONSUMER = 4;

let child: ChildProcess;
let port: number;
let alice: TestSocket | undefined;

function nextMessage<T>(): Promise<T> {
  return once(child, 'message').then(([message]) => message as T);
}

beforeAll(async () => {
  child = fork(app, [], { execArgv: ['--require', preload], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const started = await nextMessage<{ port?: number; error?: string }>();
  if (started.error !== undefined) throw new Error(started.error);
  port = started.port!;
});

afterAll(async () => {
  alice?.ws.terminate();
  if (child && child.exitCode === null) {
    child.send('close');
    await Promise.race([once(child, 'exit'), new Promise((resolve) => setTimeout(resolve, 5000))]);
    child.kill('SIGKILL');
  }
});

describe('a Nest app under @opentelemetry/instrumentation-http', () => {
  it('the request\'s SERVER span → wshub.send → wshub.deliver, one trace', async () => {
    alice = new TestSocket(`ws://127.0.0.1:${port}/api/v1/ws?user=alice`);
    await alice.opened;

    const response = await fetch(`http://127.0.0.1:${port}/orders/7/ship`, { method: 'POST' });
    expect(response.status).toBe(204);
    expect(await alice.next()).toEqual({ event: 'order.shipped', data: { id: '7' } });

    // The SERVER span ends when the response is finished: ask until it is there.
    let spans: SpanRecord[] = [];
    await expect
      .poll(async () => {
        child.send('spans');
        spans = (await nextMessage<{ spans: SpanRecord[] }>()).spans;
        return spans.some((s) => s.kind === SERVER && s.attributes['url.path'] === '/orders/7/ship');
      })
      .toBe(true);

    const request = spans.find((s) => s.kind === SERVER && s.attributes['url.path'] === '/orders/7/ship')!;
    // Made by the instrumentation itself, not by the test.
    expect(request.scope).toBe('@opentelemetry/instrumentation-http');
    expect(request.attributes['http.request.method']).toBe('POST');

    const sends = spans.filter((s) => s.name === 'wshub.send');
    expect(sends).toHaveLength(1);
    const send = sends[0]!;
    expect(send.kind).toBe(PRODUCER);
    expect(send.attributes['wshub.operation']).toBe('sendMessage');
    expect(send.attributes['messaging.destination.name']).toBe('order.shipped');
    expect(send.attributes['user.id']).toBe('alice');
    expect(send.traceId).toBe(request.traceId);
    expect(send.parentSpanId).toBe(request.spanId);

    const delivers = spans.filter((s) => s.name === 'wshub.deliver');
    expect(delivers).toHaveLength(1);
    const deliver = delivers[0]!;
    expect(deliver.kind).toBe(CONSUMER);
    expect(deliver.traceId).toBe(request.traceId);
    expect(deliver.parentSpanId).toBe(send.spanId);
    expect(deliver.attributes['wshub.sockets']).toBe(1);
  });
});
