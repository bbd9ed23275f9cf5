import { WebSocket as NodeWebSocket } from 'ws';
import { describe, expectTypeOf, it } from 'vitest';
import {
  type CloseInfo,
  type ConnectionState,
  type ExceptionReply,
  type ForbiddenWatch,
  HubClient,
  type Subscription,
} from '../src/index.js';

interface Order {
  id: string;
  status: 'paid' | 'shipped';
}
// An interface, not a type alias: maps declared either way must work.
interface Incoming {
  'order-status': Order;
  'user-updated': { name: string };
}
interface Outgoing {
  typing: { orderId: string };
  ping: undefined;
}

declare const client: HubClient<Incoming, Outgoing>;

describe('event map', () => {
  it('types the data of server events', () => {
    client.on('order-status', (data) => expectTypeOf(data).toEqualTypeOf<Order>());
    client.off('order-status', (data: Order) => void data);
    // @ts-expect-error not in the map
    client.on('order-stats', () => {});
    // @ts-expect-error wrong data type
    client.on('order-status', (data: { name: string }) => void data);
  });

  it("types the client's own events", () => {
    client.on('state', (state) => expectTypeOf(state).toEqualTypeOf<ConnectionState>());
    client.on('close', (info) => expectTypeOf(info).toEqualTypeOf<CloseInfo>());
    client.on('unauthorized', (info) => expectTypeOf(info).toEqualTypeOf<CloseInfo>());
    client.on('ended', (info) => expectTypeOf(info).toEqualTypeOf<CloseInfo>());
    client.on('forbidden', (refused) => expectTypeOf(refused).toEqualTypeOf<ForbiddenWatch>());
    client.on('exception', (reply) => expectTypeOf(reply).toEqualTypeOf<ExceptionReply>());
    client.on('error', (error) => expectTypeOf(error).toEqualTypeOf<Error>());
    expectTypeOf(client.state).toEqualTypeOf<ConnectionState>();
  });

  it('returns an unsubscribe function from on()', () => {
    expectTypeOf(client.on('order-status', () => {})).toEqualTypeOf<() => void>();
  });

  it('refuses maps that use a reserved name', () => {
    // @ts-expect-error 'state' is the client's own event
    type BadIncoming = HubClient<{ state: string }>;
    // @ts-expect-error 'watch' is part of the protocol
    type BadOutgoing = HubClient<Incoming, { watch: string }>;
    expectTypeOf<BadIncoming | BadOutgoing>().not.toBeNever();
  });

  it('watches only events of the map, with string, number or no payload', () => {
    expectTypeOf(client.watch('order-status', '42')).toEqualTypeOf<Subscription>();
    client.watch('order-status', 42);
    client.watch('order-status');
    client.watch('order-status', null);
    // @ts-expect-error not in the map
    client.watch('orders', '42');
    // @ts-expect-error payloads are scalars
    client.watch('order-status', { id: '42' });
  });

  it('types send() by the outgoing map', () => {
    expectTypeOf(client.send('typing', { orderId: '42' })).toEqualTypeOf<boolean>();
    client.send('ping', undefined);
    // @ts-expect-error wrong data
    client.send('typing', { orderId: 42 });
    // @ts-expect-error not in the outgoing map
    client.send('order-status', { id: '1', status: 'paid' });
  });

  it('accepts any event name and unknown data without maps', () => {
    const loose = new HubClient('ws://localhost/ws', { WebSocket: NodeWebSocket });
    loose.on('anything', (data) => expectTypeOf(data).toEqualTypeOf<unknown>());
    loose.on('state', (state) => expectTypeOf(state).toEqualTypeOf<ConnectionState>());
    loose.send('anything', { any: 'thing' });
  });

  it("takes the browser's WebSocket and the ws package's", () => {
    new HubClient('ws://localhost/ws', { WebSocket: globalThis.WebSocket });
    new HubClient('ws://localhost/ws', { WebSocket: NodeWebSocket });
    // @ts-expect-error not a WebSocket class
    new HubClient('ws://localhost/ws', { WebSocket: Map });
  });
});
