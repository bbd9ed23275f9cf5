import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HubClient, type Subscription } from '../../src/index.js';
import { type FakeSocket, type FakeTransport, fakeTransport } from '../support/fake-websocket.js';

let transport: FakeTransport;
let client: HubClient<{ 'order-status': { status: string }; 'chat': string }>;

async function openSocket(): Promise<FakeSocket> {
  const socket = await transport.next();
  socket.open();
  return socket;
}

beforeEach(() => {
  transport = fakeTransport();
  client = new HubClient('ws://hub.test/ws', { WebSocket: transport.WebSocket, reconnect: { initialDelayMs: 0 } });
});

afterEach(async () => {
  await client.close();
});

describe('watch', () => {
  it('sends a watch at once when open, with number payloads as strings and no payload as null', async () => {
    const socket = await openSocket();
    client.watch('order-status', 42);
    client.watch('chat');
    expect(socket.sent).toEqual([
      { event: 'watch', data: { event: 'order-status', payload: '42' } },
      { event: 'watch', data: { event: 'chat', payload: null } },
    ]);
  });

  it('sends watches made before the connection opened once it opens', async () => {
    client.watch('order-status', '1');
    client.watch('order-status', '2');
    const socket = await openSocket();
    expect(socket.sent).toEqual([
      { event: 'watch', data: { event: 'order-status', payload: '1' } },
      { event: 'watch', data: { event: 'order-status', payload: '2' } },
    ]);
  });

  it('sends one watch for two subscriptions of the same scope, and unwatch after the last is gone', async () => {
    const socket = await openSocket();
    const a = client.watch('order-status', 7);
    const b = client.watch('order-status', '7');
    a.unwatch();
    expect(socket.sent).toHaveLength(1);
    b.unwatch();
    b.unwatch();
    expect(socket.sent).toEqual([
      { event: 'watch', data: { event: 'order-status', payload: '7' } },
      { event: 'unwatch', data: { event: 'order-status', payload: '7' } },
    ]);
    expect([a.status, b.status]).toEqual(['unwatched', 'unwatched']);
  });

  it('sends every active watch again on each new connection, and not the unwatched ones', async () => {
    const first = await openSocket();
    client.watch('order-status', 1);
    client.watch('chat').unwatch();
    first.drop();
    const second = await openSocket();
    expect(second.sent).toEqual([{ event: 'watch', data: { event: 'order-status', payload: '1' } }]);
  });

  it('does not send unwatch while not open', async () => {
    const sub = client.watch('chat');
    sub.unwatch();
    const socket = await openSocket();
    expect(socket.sent).toEqual([]);
  });

  it.each([
    ['', undefined, 'watch() "event" must be a string of 1 to 200 characters, got ""'],
    ['x'.repeat(201), undefined, 'watch() "event" must be a string of 1 to 200 characters'],
    ['chat', Number.NaN, 'watch() "payload" must be a finite number, got NaN'],
    ['chat', 'p'.repeat(201), 'watch() "payload" must be at most 200 characters, got 201'],
    ['chat', { id: 1 }, 'watch() "payload" must be a string, a number or null, got an object'],
  ])('refuses watch(%j, %j) with a TypeError', (event, payload, message) => {
    expect(() => client.watch(event as 'chat', payload as string)).toThrow(TypeError);
    expect(() => client.watch(event as 'chat', payload as string)).toThrow(message);
  });

  it('refuses watch() after close()', async () => {
    await client.close();
    expect(() => client.watch('chat')).toThrow('wshub client: watch("chat") was called after the client closed');
  });
});

describe('answers to watches (protocol v2)', () => {
  it('sends each watch with a request id and confirms the subscriptions of that scope when the answer says allowed', async () => {
    const socket = await openSocket();
    const a = client.watch('order-status', 42);
    const b = client.watch('order-status', '42');
    const other = client.watch('order-status', 43);
    expect(socket.sent).toHaveLength(2);
    const [idA, idOther] = socket.ids as number[];
    expect(typeof idA).toBe('number');
    expect(idOther).not.toBe(idA);
    const confirmedA = a.whenConfirmed();
    expect([a.confirmed, b.confirmed]).toEqual([false, false]);
    socket.receive({ event: 'wshub:ack', data: { id: idA, op: 'watch', status: 'allowed', event: 'order-status', payload: '42' } });
    expect(await confirmedA).toBe(true);
    expect([a.confirmed, b.confirmed, other.confirmed]).toEqual([true, true, false]);
    // A new subscription of a confirmed scope is confirmed at once; nothing is sent.
    expect(client.watch('order-status', 42).confirmed).toBe(true);
    expect(socket.sent).toHaveLength(2);
  });

  it('an answer that says forbidden refuses the subscriptions of that request, as the v1 reply does', async () => {
    const socket = await openSocket();
    const sub = client.watch('order-status', 42);
    const refused: unknown[] = [];
    client.on('forbidden', (f) => refused.push(f));
    const waiting = sub.whenConfirmed();
    socket.receive({ event: 'wshub:ack', data: { id: socket.ids[0], op: 'watch', status: 'forbidden', event: 'order-status', payload: '42' } });
    expect(await waiting).toBe(false);
    expect(sub.status).toBe('forbidden');
    expect(refused).toEqual([{ event: 'order-status', payload: '42' }]);
  });

  it('an invalid answer is emitted as exception; an answer to no request of this connection is ignored', async () => {
    const socket = await openSocket();
    const sub = client.watch('order-status', 42);
    const exceptions: unknown[] = [];
    client.on('exception', (e) => exceptions.push(e));
    socket.receive({ event: 'wshub:ack', data: { id: 999, op: 'watch', status: 'allowed' } });
    expect(sub.confirmed).toBe(false);
    socket.receive({ event: 'wshub:ack', data: { id: socket.ids[0], op: 'watch', status: 'invalid', message: 'watch limit reached' } });
    expect(exceptions).toEqual([{ status: 'error', message: 'watch limit reached' }]);
    expect(sub.status).toBe('active');
  });

  it('a dropped connection unconfirms; the re-sent watch is confirmed again; close() settles waiters with false', async () => {
    const socket = await openSocket();
    const sub = client.watch('chat');
    socket.receive({ event: 'wshub:ack', data: { id: socket.ids[0], op: 'watch', status: 'allowed', event: 'chat', payload: null } });
    expect(sub.confirmed).toBe(true);
    socket.drop();
    expect(sub.confirmed).toBe(false);
    const next = await openSocket();
    const again = sub.whenConfirmed();
    next.receive({ event: 'wshub:ack', data: { id: next.ids[0], op: 'watch', status: 'allowed', event: 'chat', payload: null } });
    expect(await again).toBe(true);
    next.drop();
    const never = sub.whenConfirmed();
    await client.close();
    expect(await never).toBe(false);
  });
});

describe('forbidden reply', () => {
  it('marks every subscription of that scope forbidden, calls their handlers and emits forbidden', async () => {
    const socket = await openSocket();
    const a = client.watch('order-status', 42);
    const b = client.watch('order-status', '42');
    const other = client.watch('order-status', 43);
    const seen: unknown[] = [];
    a.onForbidden((f) => seen.push(['a', f]));
    const off = b.onForbidden((f) => seen.push(['b-removed', f]));
    off();
    client.on('forbidden', (f) => seen.push(['client', f]));
    socket.receive({ event: 'watch', data: { event: 'order-status', payload: '42', forbidden: true } });
    const refused = { event: 'order-status', payload: '42' };
    expect(seen).toEqual([
      ['a', refused],
      ['client', refused],
    ]);
    expect([a.status, b.status, other.status]).toEqual(['forbidden', 'forbidden', 'active']);
    // A forbidden scope is not sent again after reconnecting, and unwatch() on it sends nothing.
    a.unwatch();
    socket.drop();
    const next = await openSocket();
    expect(next.sent).toEqual([{ event: 'watch', data: { event: 'order-status', payload: '43' } }]);
  });

  it('matches a wildcard refusal (payload null) to the watch without payload only', async () => {
    const socket = await openSocket();
    const wildcard = client.watch('chat');
    const scoped = client.watch('chat', 'room-1');
    socket.receive({ event: 'watch', data: { event: 'chat', payload: null, forbidden: true } });
    expect([wildcard.status, scoped.status]).toEqual(['forbidden', 'active']);
  });

  it('ignores watch frames that are not refusals', async () => {
    const socket = await openSocket();
    const sub: Subscription = client.watch('chat');
    socket.receive({ event: 'watch', data: { event: 'chat', payload: null } });
    expect(sub.status).toBe('active');
  });
});
