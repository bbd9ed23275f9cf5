import { createHash } from 'node:crypto';
import { context, type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Tracing } from '../src/config/tracing.js';
import { InMemoryBroker, InMemoryBus, WsHub } from '../src/index.js';
import { type Fixture, startHub, userFromRequest } from './helpers.js';

/** A real SDK: spans end up in `exporter`, parents follow async calls as under @opentelemetry/sdk-node. */
let exporter: InMemorySpanExporter;
let nodes: Fixture[] = [];

function register(): void {
  exporter = new InMemorySpanExporter();
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
}

afterEach(async () => {
  await Promise.all(nodes.map((n) => n.close()));
  nodes = [];
  trace.disable();
  context.disable();
});

async function node(options: Parameters<typeof startHub>[0] = {}): Promise<Fixture> {
  const fixture = await startHub(options);
  nodes.push(fixture);
  return fixture;
}

/** Runs `call` inside a span of the app (as an HTTP request's span would be) and ends it. */
async function inRequest<T>(call: () => Promise<T>): Promise<{ request: Span; result: T }> {
  const tracer = trace.getTracer('app');
  return tracer.startActiveSpan('POST /orders', async (request) => {
    try {
      return { request, result: await call() };
    } finally {
      request.end();
    }
  });
}

const named = (name: string): ReadableSpan[] => exporter.getFinishedSpans().filter((s) => s.name === name);

/** Waits until `count` spans named `name` ended (delivery on another node ends after the sender's call). */
async function spans(name: string, count = 1): Promise<ReadableSpan[]> {
  for (let i = 0; i < 200 && named(name).length < count; i++) await new Promise((r) => setTimeout(r, 10));
  return named(name);
}

describe('tracing: wshub.send is a child of the caller\'s active span', () => {
  beforeEach(register);

  it('sendMessage: PRODUCER span with the messaging attributes and the sockets reached on this node', async () => {
    const a = await node();
    const phone = await a.ready('user=u1&device=phone');
    const laptop = await a.ready('user=u1&device=laptop');
    const { request } = await inRequest(() => a.hub.sendMessage('u1', 'shipped', { order: 7 }, undefined, { id: 'm-1' }));
    await phone.next();
    await laptop.next();
    const [send] = await spans('wshub.send');
    expect(send!.kind).toBe(SpanKind.PRODUCER);
    expect(send!.spanContext().traceId).toBe(request.spanContext().traceId);
    expect(send!.parentSpanContext?.spanId).toBe(request.spanContext().spanId);
    expect(send!.attributes).toEqual({
      'messaging.system': 'wshub',
      'messaging.operation': 'publish',
      'messaging.operation.type': 'send',
      'messaging.destination.name': 'shipped',
      'messaging.message.id': 'm-1',
      'wshub.operation': 'sendMessage',
      'wshub.sockets': 2,
    });
    expect(send!.status.code).toBe(SpanStatusCode.UNSET);
  });

  it('push of shared data counts every socket it wrote; disconnect and updateUser have spans too', async () => {
    const a = await node();
    const one = await a.ready('user=u1');
    const two = await a.ready('user=u2');
    await inRequest(async () => {
      await a.hub.push('news', 'hello');
      await a.hub.updateUser({ id: 'u2', deviceFingerprint: 'device-1', role: 'admin' });
      await a.hub.disconnect('u1');
    });
    await one.next();
    await two.next();
    const sends = await spans('wshub.send', 3);
    expect(sends.map((s) => s.attributes['wshub.operation'])).toEqual(['push', 'updateUser', 'disconnect']);
    expect(sends[0]!.attributes['wshub.sockets']).toBe(2);
    expect(sends[0]!.attributes['messaging.destination.name']).toBe('news');
    // Only a call that writes messages counts sockets.
    expect(sends[1]!.attributes['wshub.sockets']).toBeUndefined();
  });

  it('records the error a call rejects with, and the call still rejects with it', async () => {
    const a = await node({ limits: { maxBufferedBytes: 1024 } });
    await expect(inRequest(() => a.hub.sendMessage('u1', 'big', 'x'.repeat(4096)))).rejects.toThrow(RangeError);
    const [send] = await spans('wshub.send');
    expect(send!.status.code).toBe(SpanStatusCode.ERROR);
    expect(send!.status.message).toMatch(/more than limits\.maxBufferedBytes/);
    expect(send!.events.map((e) => e.name)).toEqual(['exception']);
  });
});

describe('tracing: an error the hub reports during a traced call is recorded on that call\'s span', () => {
  beforeEach(register);

  it.each([
    [
      'serialize throws',
      async () => {
        const a = await node({ serialize: () => { throw new Error('cannot serialize this'); } });
        return () => a.hub.sendMessage('u1', 'e', 1);
      },
      /cannot serialize this/,
    ],
    [
      'the broker fails to publish',
      async (bus: InMemoryBus) => {
        const a = await node({ broker: new InMemoryBroker(bus) });
        bus.publish = () => { throw new Error('the bus is down'); };
        return () => a.hub.sendMessage('u1', 'e', 1);
      },
      /the bus is down/,
    ],
    [
      'a push data callback rejects',
      async () => {
        const a = await node();
        await a.ready('user=u1');
        return () => a.hub.push('e', async () => { throw new Error('no data for this user'); });
      },
      /no data for this user/,
    ],
  ])('%s: the call resolves, the error reaches \'error\' and the span', async (_, setup, message) => {
    const call = await setup(new InMemoryBus());
    const errors: Error[] = [];
    nodes[0]!.hub.on('error', (error) => errors.push(error));
    await inRequest(call);
    expect(errors.map((e) => e.message)).toEqual([expect.stringMatching(message)]);
    const [send] = await spans('wshub.send');
    expect(send!.status).toEqual({ code: SpanStatusCode.ERROR, message: expect.stringMatching(message) });
    expect(send!.events.map((e) => e.name)).toEqual(['exception']);
    // The app's span is not ours to mark.
    expect(named('POST /orders')[0]!.status.code).toBe(SpanStatusCode.UNSET);
  });
});

describe('tracing: user ids are personal data, omitted unless the hub\'s option says otherwise', () => {
  beforeEach(register);

  it.each([
    [undefined, {}],
    [{ userIds: 'omit' as const }, {}],
    [{ userIds: 'hash' as const }, { 'user.hash': createHash('sha256').update('alice@example.com').digest('hex') }],
    [{ userIds: 'include' as const }, { 'user.id': 'alice@example.com' }],
  ])('tracing %j', async (tracing, expected) => {
    const a = await node({ tracing });
    await a.hub.sendMessage('alice@example.com', 'e', 1);
    const [send] = await spans('wshub.send');
    const userAttributes = Object.fromEntries(Object.entries(send!.attributes).filter(([k]) => k.startsWith('user.')));
    expect(userAttributes).toEqual(expected);
  });

  it.each([
    ['a string', 'hash', /option "tracing" must be an object, got "hash"/],
    ['an unknown mode', { userIds: 'plain' }, /option "tracing\.userIds" must be one of 'omit', 'hash', 'include', got "plain"/],
  ])('a bad option (%s) is a TypeError naming it', (_, tracing, message) => {
    expect(() => new WsHub({ authenticate: userFromRequest, tracing: tracing as never })).toThrow(message);
  });
});

describe('tracing: what a span costs is spent once', () => {
  beforeEach(register);

  it('a single node makes no envelope, so no traceparent is read for one', async () => {
    const read = vi.spyOn(Tracing.prototype, 'traceparent');
    try {
      const a = await node();
      const alice = await a.ready('user=alice');
      await a.hub.sendMessage('alice', 'e', 1);
      await a.hub.push('e', 2);
      expect(await alice.next()).toEqual({ event: 'e', data: 1 });
      expect(await alice.next()).toEqual({ event: 'e', data: 2 });
      await a.hub.disconnect('alice');
      expect(named('wshub.send')).toHaveLength(3);
      expect(read).not.toHaveBeenCalled();
    } finally {
      read.mockRestore();
    }
  });

  it('user hashes are kept for recent users, and each span still has its own user\'s', async () => {
    const a = await node({ tracing: { userIds: 'hash' } });
    const users = Array.from({ length: 1100 }, (_, i) => `user-${i}`);
    for (const user of [...users, 'user-0', 'user-1099', 'user-0']) await a.hub.sendMessage(user, 'e', 1);
    const hashes = named('wshub.send').map((s) => s.attributes['user.hash']);
    const expected = [...users, 'user-0', 'user-1099', 'user-0'].map((u) => createHash('sha256').update(u).digest('hex'));
    expect(hashes).toEqual(expected);
  });
});

describe('tracing: one trace across nodes (the envelope carries the W3C traceparent)', () => {
  beforeEach(register);

  it('a sendMessage on node A to a user on node B: B\'s wshub.deliver is a CONSUMER child of A\'s wshub.send', async () => {
    const bus = new InMemoryBus();
    const a = await node({ broker: new InMemoryBroker(bus) });
    const b = await node({ broker: new InMemoryBroker(bus), tracing: { userIds: 'include' } });
    const phone = await b.ready('user=u1');
    const { request } = await inRequest(() => a.hub.sendMessage('u1', 'shipped', 1));
    expect(await phone.next()).toEqual({ event: 'shipped', data: 1 });
    const [send] = await spans('wshub.send');
    const [deliver] = await spans('wshub.deliver');
    expect(send!.attributes['wshub.sockets']).toBe(0);
    expect(deliver!.kind).toBe(SpanKind.CONSUMER);
    expect(deliver!.spanContext().traceId).toBe(request.spanContext().traceId);
    expect(deliver!.parentSpanContext).toMatchObject({ spanId: send!.spanContext().spanId, isRemote: true });
    expect(deliver!.attributes).toEqual({
      'messaging.system': 'wshub',
      'messaging.operation': 'process',
      'messaging.operation.type': 'process',
      'messaging.destination.name': 'shipped',
      'wshub.operation': 'sendMessage',
      'user.id': 'u1',
      'wshub.sockets': 1,
    });
  });

  it('push and disconnect travel in the same trace to every node', async () => {
    const bus = new InMemoryBus();
    const a = await node({ broker: new InMemoryBroker(bus) });
    const b = await node({ broker: new InMemoryBroker(bus) });
    const c = await node({ broker: new InMemoryBroker(bus) });
    const onB = await b.ready('user=u1');
    const onC = await c.ready('user=u2');
    const { request } = await inRequest(async () => {
      await a.hub.push('news', 'hi');
      await a.hub.disconnect('u1');
    });
    await onB.next();
    await onC.next();
    expect((await onB.waitForClose()).code).toBe(4000);
    const delivers = await spans('wshub.deliver', 3);
    const sends = named('wshub.send');
    const push = sends.find((s) => s.attributes['wshub.operation'] === 'push')!;
    const disconnect = sends.find((s) => s.attributes['wshub.operation'] === 'disconnect')!;
    const parentOf = (op: string) =>
      delivers.filter((d) => d.attributes['wshub.operation'] === op).map((d) => d.parentSpanContext?.spanId);
    expect(parentOf('push')).toEqual([push.spanContext().spanId, push.spanContext().spanId]);
    expect(parentOf('disconnect')).toEqual([disconnect.spanContext().spanId]);
    for (const d of delivers) expect(d.spanContext().traceId).toBe(request.spanContext().traceId);
  });

  it('a message too large for the receiving node: its error is on that node\'s wshub.deliver', async () => {
    const bus = new InMemoryBus();
    const a = await node({ broker: new InMemoryBroker(bus) });
    const b = await node({ broker: new InMemoryBroker(bus), limits: { maxBufferedBytes: 1024 } });
    await b.ready('user=u1');
    const errors: Error[] = [];
    b.hub.on('error', (error) => errors.push(error));
    await inRequest(() => a.hub.sendMessage('u1', 'big', 'x'.repeat(4096)));
    const [deliver] = await spans('wshub.deliver');
    expect(errors.map((e) => e.message)).toEqual([expect.stringMatching(/more than limits\.maxBufferedBytes/)]);
    expect(deliver!.status).toEqual({ code: SpanStatusCode.ERROR, message: expect.stringMatching(/more than limits\.maxBufferedBytes/) });
    expect(deliver!.attributes['wshub.sockets']).toBeUndefined();
    expect(named('wshub.send')[0]!.status.code).toBe(SpanStatusCode.UNSET);
  });

  it('a traceparent that is not well formed is ignored: the message is delivered in a new trace', async () => {
    const bus = new InMemoryBus();
    const b = await node({ broker: new InMemoryBroker(bus) });
    const phone = await b.ready('user=u1');
    const message = JSON.stringify({ event: 'e', data: 1 });
    for (const tp of ['garbage', 42, `00-${'0'.repeat(32)}-${'1'.repeat(16)}-01`]) {
      const e = { kind: 'send', userId: 'u1', event: 'e', filter: null, message, tp };
      bus.publish('wshub:user:u1', JSON.stringify({ o: 'another-node', e }));
      expect(await phone.next()).toEqual({ event: 'e', data: 1 });
    }
    const delivers = await spans('wshub.deliver', 3);
    expect(delivers.map((d) => d.parentSpanContext)).toEqual([undefined, undefined, undefined]);
  });
});

describe('tracing: no tracer provider registered', () => {
  it('makes no spans and changes nothing the hub does', async () => {
    const bus = new InMemoryBus();
    const a = await node({ broker: new InMemoryBroker(bus) });
    const b = await node({ broker: new InMemoryBroker(bus) });
    const phone = await b.ready('user=u1');
    // A provider that exists but is not registered sees nothing.
    const unregistered = new InMemorySpanExporter();
    new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(unregistered)] });
    await a.hub.sendMessage('u1', 'e', 1);
    await a.hub.push('p', 2);
    expect(await phone.next()).toEqual({ event: 'e', data: 1 });
    expect(await phone.next()).toEqual({ event: 'p', data: 2 });
    await expect(a.hub.sendMessage('u1', 'big', 'x'.repeat(2 * 1024 * 1024))).rejects.toThrow(RangeError);
    expect(unregistered.getFinishedSpans()).toEqual([]);
  });

  it('an envelope carries no traceparent; a provider registered later is followed', async () => {
    const bus = new InMemoryBus();
    const published: string[] = [];
    const publish = bus.publish.bind(bus);
    bus.publish = (channel, data) => {
      published.push(data);
      publish(channel, data);
    };
    const a = await node({ broker: new InMemoryBroker(bus) });
    await a.hub.sendMessage('u1', 'e', 1);
    register();
    await inRequest(() => a.hub.sendMessage('u1', 'e', 2));
    expect(published.map((d) => JSON.parse(d).e.tp)).toEqual([
      undefined,
      expect.stringMatching(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/),
    ]);
  });
});

describe('tracing: wshub.canWatch, with the decision', () => {
  beforeEach(register);

  it.each([
    ['returns true: allowed', () => true, 'allowed', undefined],
    ['resolves false: forbidden', async () => false, 'forbidden', undefined],
    [
      'throws: error',
      () => {
        throw new Error('db down');
      },
      'error',
      /db down/,
    ],
    [
      'rejects: error',
      async () => {
        throw new Error('db down');
      },
      'error',
      /db down/,
    ],
    ['never answers: timeout', () => new Promise<boolean>(() => {}), 'timeout', /did not answer within 100 ms/],
  ])('canWatch %s', async (_, check, decision, error) => {
    let activeInCheck: string | undefined;
    const canWatch = () => {
      activeInCheck = trace.getActiveSpan()?.spanContext().spanId;
      return check();
    };
    const a = await node({ canWatch: canWatch as never, watchTimeoutMs: 100, tracing: { userIds: 'include' } });
    a.hub.on('error', () => {});
    const client = await a.ready('user=u1');
    client.watch('order-status', 42);
    const [span] = await spans('wshub.canWatch');
    expect(span!.kind).toBe(SpanKind.INTERNAL);
    expect(span!.attributes).toEqual({
      'wshub.socket.id': a.hub.socketsOf('u1')[0]!.id,
      'wshub.watch.event': 'order-status',
      'wshub.watch.decision': decision,
      'user.id': 'u1',
    });
    // The app's spans inside canWatch are its children.
    expect(activeInCheck).toBe(span!.spanContext().spanId);
    if (error) {
      expect(span!.status).toEqual({ code: SpanStatusCode.ERROR, message: expect.stringMatching(error) });
      expect(span!.events.map((e) => e.name)).toEqual(['exception']);
    } else {
      expect(span!.status.code).toBe(SpanStatusCode.UNSET);
    }
  });

  it('no canWatch, no span: every watch is allowed without asking', async () => {
    const a = await node();
    const client = await a.ready('user=u1');
    client.watch('news');
    // v1 watches are not confirmed: wait for the server-side socket to hold it.
    for (let i = 0; i < 200 && !a.hub.socketsOf('u1')[0]?.watching.has('news'); i++) await new Promise((r) => setTimeout(r, 10));
    await a.hub.sendMessage('u1', 'news', 1, true);
    expect(await client.next()).toEqual({ event: 'news', data: 1 });
    expect(named('wshub.canWatch')).toEqual([]);
  });
});
