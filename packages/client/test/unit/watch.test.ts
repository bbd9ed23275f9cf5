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
