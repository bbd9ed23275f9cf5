import type { IncomingMessage } from 'node:http';
import { context, ProxyTracer, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { activeTraceparent, type Position } from '../src/index.js';
import { type Fixture, startHub, type TestSocket, type User, userFromRequest, waitFor } from './helpers.js';

/** A real SDK: spans end up in `exporter`, parents follow async calls as under @opentelemetry/sdk-node. */
let exporter: InMemorySpanExporter;
let nodes: Fixture[] = [];
const V2 = { protocols: ['wshub'] };

function register(): void {
  exporter = new InMemorySpanExporter();
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
}

afterEach(async () => {
  await Promise.all(nodes.map((n) => n.close()));
  nodes = [];
  vi.restoreAllMocks();
  trace.disable();
  context.disable();
});

async function node(options: Parameters<typeof startHub>[0] = {}): Promise<Fixture> {
  const fixture = await startHub(options);
  nodes.push(fixture);
  return fixture;
}

const named = (name: string): ReadableSpan[] => exporter.getFinishedSpans().filter((s) => s.name === name);

async function spans(name: string, count = 1): Promise<ReadableSpan[]> {
  for (let i = 0; i < 200 && named(name).length < count; i++) await new Promise((r) => setTimeout(r, 10));
  return named(name);
}

/** The app's own span inside a hook: the hook's span must be its parent. */
function appSpanIn<T>(step: () => T): T {
  return trace.getTracer('app').startActiveSpan('app.step', (span) => {
    try {
      return step();
    } finally {
      span.end();
    }
  });
}

const parentOf = (span: ReadableSpan | undefined) => span?.parentSpanContext?.spanId;

describe('tracing: wshub.authenticate, one per connection, with its outcome', () => {
  beforeEach(register);

  it('accepted: the socket id and the user; the app\'s spans in authenticate are its children', async () => {
    const a = await node({ authenticate: (req: IncomingMessage) => appSpanIn(() => userFromRequest(req)), tracing: { userIds: 'include' } });
    await a.ready('user=u1');
    const [auth] = await spans('wshub.authenticate');
    expect(auth!.kind).toBe(SpanKind.INTERNAL);
    expect(auth!.attributes).toEqual({ 'wshub.socket.id': a.hub.socketsOf('u1')[0]!.id, 'wshub.auth.outcome': 'accepted', 'user.id': 'u1' });
    expect(auth!.status.code).toBe(SpanStatusCode.UNSET);
    expect(parentOf(named('app.step')[0])).toBe(auth!.spanContext().spanId);
  });

  it('refused (authenticate throws): 4403, the app\'s reason an event on the span, which is not failed', async () => {
    const a = await node();
    const client = a.connect('user=bad');
    expect((await client.waitForClose()).code).toBe(4403);
    const [auth] = await spans('wshub.authenticate');
    expect(auth!.attributes).toMatchObject({ 'wshub.auth.outcome': 'refused', 'wshub.close.code': 4403 });
    expect(auth!.attributes['wshub.socket.id']).toMatch(/^[0-9a-f]{32}$/);
    expect(auth!.status.code).toBe(SpanStatusCode.UNSET);
    expect(auth!.events.map((e) => [e.name, e.attributes?.['exception.message']])).toEqual([['exception', 'secret reason for bad']]);
  });

  it.each([
    ['resolves something that is not a user: refused, the span failed', () => ({ id: 42 }), 'refused', 4403, /a user whose "id" is not a non-empty string/],
    ['never answers: timeout', () => new Promise<User>(() => {}), 'timeout', 4408, /did not answer within 100 ms/],
  ])('authenticate %s', async (_, authenticate, outcome, code, message) => {
    const a = await node({ authenticate: authenticate as never, authTimeoutMs: 100 });
    a.hub.on('error', () => {});
    expect((await a.connect('user=u1').waitForClose()).code).toBe(code);
    const [auth] = await spans('wshub.authenticate');
    expect(auth!.attributes).toMatchObject({ 'wshub.auth.outcome': outcome, 'wshub.close.code': code });
    expect(auth!.status).toEqual({ code: SpanStatusCode.ERROR, message: expect.stringMatching(message) });
  });

  it('the client leaves before authenticate answers: the span ends as closed', async () => {
    let answer: (user: User) => void = () => {};
    const a = await node({ authenticate: () => new Promise<User>((resolve) => (answer = resolve)) });
    const client = a.connect('user=u1');
    await waitFor(a.hub, 'connected');
    const gone = waitFor(a.hub, 'disconnected');
    client.ws.terminate();
    await gone;
    const [auth] = await spans('wshub.authenticate');
    expect(auth!.attributes).toMatchObject({ 'wshub.auth.outcome': 'closed' });
    answer({ id: 'u1', deviceFingerprint: 'd' });
    await new Promise((r) => setTimeout(r, 20));
    expect(named('wshub.authenticate')).toHaveLength(1);
  });
});

/** Sends a frame with an id and returns its ack, keeping what came before it. */
async function request(client: TestSocket, event: string, data: unknown): Promise<{ before: unknown[]; ack: Record<string, unknown> }> {
  const id = Math.floor(Math.random() * 1e9);
  client.send({ event, id, data });
  const before: unknown[] = [];
  for (;;) {
    const m = await client.next();
    if (m.event === 'wshub:ack' && (m.data as { id?: number }).id === id) return { before, ack: m.data as Record<string, unknown> };
    before.push(m);
  }
}

describe('tracing: wshub.resume, with the status and how many were replayed', () => {
  beforeEach(register);

  it('recovered: the socket id and how many were replayed', async () => {
    const a = await node({ recovery: true });
    const first = a.connect('user=bob', V2);
    const welcome = (await first.next()).data as { recovery: Position };
    await a.hub.sendMessage('bob', 'one', 1);
    await a.hub.sendMessage('bob', 'two', 2);
    await first.next();
    await first.next();
    const again = a.connect('user=bob', V2);
    await again.next();
    const { before, ack } = await request(again, 'wshub:resume', welcome.recovery);
    expect(before).toHaveLength(2);
    expect(ack).toMatchObject({ status: 'recovered', missed: 2 });
    const [resume] = await spans('wshub.resume');
    expect(resume!.kind).toBe(SpanKind.INTERNAL);
    expect(resume!.attributes).toEqual({
      'wshub.socket.id': a.hub.socketsOf('bob')[1]!.id,
      'wshub.resume.status': 'recovered',
      'wshub.resume.missed': 2,
    });
  });

  it('failed (a position from another history) and unavailable (no recovery) say so', async () => {
    const a = await node({ recovery: true });
    const client = a.connect('user=bob', V2);
    await client.next();
    expect((await request(client, 'wshub:resume', { epoch: 'another', offset: 0 })).ack).toMatchObject({ status: 'failed' });
    const b = await node();
    const other = b.connect('user=bob', V2);
    await other.next();
    expect((await request(other, 'wshub:resume', { epoch: 'x', offset: 0 })).ack).toMatchObject({ status: 'unavailable' });
    const resumes = await spans('wshub.resume', 2);
    expect(resumes.map((s) => s.attributes['wshub.resume.status'])).toEqual(['failed', 'unavailable']);
    expect(resumes[0]!.attributes['wshub.resume.missed']).toBe(0);
  });
});

describe('tracing: wshub.refresh, with the status', () => {
  beforeEach(register);

  const refresh = ({ token, user }: { token: string; user: User }) =>
    appSpanIn(() => {
      if (token === 'bad') throw new Error('token revoked');
      return { ...user };
    });

  it('refreshed: the socket id and the user; the app\'s spans in the hook are its children', async () => {
    const a = await node({ refresh, tracing: { userIds: 'include' } });
    const client = a.connect('user=u1', V2);
    await client.next();
    expect((await request(client, 'wshub:refresh', { token: 'good' })).ack).toMatchObject({ status: 'refreshed' });
    const [span] = await spans('wshub.refresh');
    expect(span!.attributes).toEqual({ 'wshub.socket.id': a.hub.socketsOf('u1')[0]!.id, 'user.id': 'u1', 'wshub.refresh.status': 'refreshed' });
    expect(parentOf(named('app.step')[0])).toBe(span!.spanContext().spanId);
  });

  it('refused (the hook throws): 4403, the reason an event; a hook that answers nonsense fails the span', async () => {
    const a = await node({ refresh });
    a.hub.on('error', () => {});
    const client = a.connect('user=u1', V2);
    await client.next();
    client.send({ event: 'wshub:refresh', id: 1, data: { token: 'bad' } });
    expect((await client.waitForClose()).code).toBe(4403);
    const b = await node({ refresh: () => ({ id: 'someone-else', deviceFingerprint: 'd' }) });
    b.hub.on('error', () => {});
    const other = b.connect('user=u1', V2);
    await other.next();
    other.send({ event: 'wshub:refresh', id: 1, data: { token: 'good' } });
    expect((await other.waitForClose()).code).toBe(4403);
    const [thrown, wrongUser] = await spans('wshub.refresh', 2);
    expect(thrown!.attributes).toMatchObject({ 'wshub.refresh.status': 'refused', 'wshub.close.code': 4403 });
    expect(thrown!.status.code).toBe(SpanStatusCode.UNSET);
    expect(thrown!.events.map((e) => e.attributes?.['exception.message'])).toEqual(['token revoked']);
    expect(wrongUser!.attributes).toMatchObject({ 'wshub.refresh.status': 'refused', 'wshub.close.code': 4403 });
    expect(wrongUser!.status).toEqual({ code: SpanStatusCode.ERROR, message: expect.stringMatching(/resolved user "someone-else"/) });
  });
});

describe('tracing: with recovery on, the history\'s delivery is a wshub.deliver', () => {
  beforeEach(register);

  it('on a single node: a CONSUMER child of wshub.send, with the offset and the sockets written', async () => {
    const a = await node({ recovery: true });
    const client = a.connect('user=bob', V2);
    await client.next();
    await a.hub.sendMessage('bob', 'hello', 1);
    const message = (await client.next()) as { offset: number };
    const [send] = await spans('wshub.send');
    const [deliver] = await spans('wshub.deliver');
    expect(deliver!.kind).toBe(SpanKind.CONSUMER);
    expect(parentOf(deliver)).toBe(send!.spanContext().spanId);
    expect(deliver!.attributes).toMatchObject({
      'wshub.operation': 'sendMessage',
      'messaging.destination.name': 'hello',
      'wshub.recovery.offset': message.offset,
      'wshub.sockets': 1,
    });
  });
});

describe('tracing: a send linked to an earlier span (options.link)', () => {
  beforeEach(register);

  it('wshub.send gets a link to it; activeTraceparent() gives the active span\'s', async () => {
    const a = await node();
    let tp: string | undefined;
    let spanId: string | undefined;
    trace.getTracer('app').startActiveSpan('transaction', (span) => {
      tp = activeTraceparent();
      spanId = span.spanContext().spanId;
      span.end();
    });
    expect(tp).toMatch(new RegExp(`^00-[0-9a-f]{32}-${spanId}-01$`));
    expect(activeTraceparent()).toBeUndefined();
    await a.hub.sendMessage('u1', 'e', 1, undefined, { link: tp });
    await a.hub.push('p', 1, null, undefined, { link: tp });
    const sends = await spans('wshub.send', 2);
    for (const send of sends) {
      expect(send.links.map((l) => l.context.spanId)).toEqual([spanId]);
      // A link, not a parent: the send is a trace of its own.
      expect(send.parentSpanContext).toBeUndefined();
    }
  });

  it.each([['garbage'], [42], [`00-${'0'.repeat(32)}-${'1'.repeat(16)}-01`]])('a link that is not a traceparent (%j) is a TypeError', async (link) => {
    const a = await node();
    await expect(a.hub.sendMessage('u1', 'e', 1, undefined, { link: link as never })).rejects.toThrow(/option "link" must be a W3C traceparent/);
  });
});

describe('tracing: no tracer provider registered', () => {
  it('asks the API for no span at all, for any of the hub\'s steps', async () => {
    const startSpan = vi.spyOn(ProxyTracer.prototype, 'startSpan');
    const a = await node({ recovery: true, canWatch: () => true, refresh: ({ user }) => user });
    const client = a.connect('user=bob', V2);
    const welcome = (await client.next()).data as { recovery: Position };
    await a.hub.sendMessage('bob', 'e', 1);
    await client.next();
    await request(client, 'watch', { event: 'x' });
    await request(client, 'wshub:refresh', { token: 't' });
    await request(client, 'wshub:resume', welcome.recovery);
    await a.hub.push('p', 1);
    await a.hub.disconnect('bob');
    expect(startSpan).not.toHaveBeenCalled();
  });
});
