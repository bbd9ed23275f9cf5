import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HubClient } from '../../src/index.js';
import { type FakeSocket, type FakeTransport, fakeTransport } from '../support/fake-websocket.js';

interface Incoming {
  'order-status': { id: string; status: string };
  __proto__: string;
}
interface Outgoing {
  ping: number;
  note: unknown;
}

let transport: FakeTransport;
let client: HubClient<Incoming, Outgoing>;
let errors: Error[];

async function socketCreated(): Promise<FakeSocket> {
  return transport.next();
}

function make(options: { maxQueuedMessages?: number } = {}): void {
  transport = fakeTransport();
  client = new HubClient('ws://hub.test/ws', {
    WebSocket: transport.WebSocket,
    reconnect: { initialDelayMs: 0 },
    ...options,
  });
  errors = [];
  client.on('error', (error) => errors.push(error));
}

beforeEach(() => {
  make();
});

afterEach(async () => {
  await client.close();
});

describe('incoming messages', () => {
  it('hands the data of each server event to its handlers, in registration order', async () => {
    const socket = await socketCreated();
    socket.open();
    const seen: unknown[] = [];
    client.on('order-status', (data) => seen.push(['first', data]));
    const off = client.on('order-status', (data) => seen.push(['removed', data]));
    client.on('order-status', (data) => seen.push(['second', data]));
    off();
    socket.receive({ event: 'order-status', data: { id: '1', status: 'paid' } });
    client.off('order-status');
    socket.receive({ event: 'order-status', data: { id: '1', status: 'shipped' } });
    expect(seen).toEqual([
      ['first', { id: '1', status: 'paid' }],
      ['second', { id: '1', status: 'paid' }],
    ]);
  });

  it('delivers an event named __proto__ like any other', async () => {
    const socket = await socketCreated();
    socket.open();
    const seen: unknown[] = [];
    client.on('__proto__', (data) => seen.push(data));
    socket.receive('{"event":"__proto__","data":"x"}');
    expect(seen).toEqual(['x']);
    expect(({} as Record<string, unknown>).data).toBeUndefined();
  });

  it('emits exception replies as "exception"', async () => {
    const socket = await socketCreated();
    socket.open();
    const seen: unknown[] = [];
    client.on('exception', (reply) => seen.push(reply));
    socket.receive({ event: 'exception', data: { status: 'error', message: 'bad watch' } });
    expect(seen).toEqual([{ status: 'error', message: 'bad watch' }]);
  });

  it.each([
    ['not json', 'the server sent a frame that is not JSON: "not json"'],
    ['[1,2]', 'the server sent a frame without a string "event": "[1,2]"'],
    ['{"event":7}', 'the server sent a frame without a string "event"'],
    ['{"event":"state","data":"open"}', 'the server sent event "state", a name the client reserves for its own events'],
  ])('reports the frame %j as an error and delivers nothing', async (frame, message) => {
    const socket = await socketCreated();
    socket.open();
    const states: unknown[] = [];
    client.on('state', (s) => states.push(s));
    socket.receive(frame);
    expect(errors.map((e) => e.message)).toEqual([`wshub client: ${message}`].map((m) => expect.stringContaining(m)));
    expect(states).toEqual([]);
    expect(client.state).toBe('open');
  });

  it('reports a binary frame', async () => {
    const socket = await socketCreated();
    socket.open();
    socket.onmessage?.({ data: new ArrayBuffer(2) });
    expect(errors[0]?.message).toBe('wshub client: the server sent a binary frame; wshub messages are JSON text');
  });

  it('keeps calling handlers after one throws, and emits the throw as "error"', async () => {
    const socket = await socketCreated();
    socket.open();
    const boom = new Error('handler bug');
    const seen: string[] = [];
    client.on('order-status', () => {
      throw boom;
    });
    client.on('order-status', (data) => seen.push(data.status));
    socket.receive({ event: 'order-status', data: { id: '1', status: 'paid' } });
    expect(seen).toEqual(['paid']);
    expect(errors).toEqual([boom]);
  });

  it('emits as "error" the rejection of an async handler, which would otherwise go unhandled', async () => {
    const socket = await socketCreated();
    socket.open();
    const boom = new Error('saving it failed');
    client.on('order-status', async () => {
      await Promise.resolve();
      throw boom;
    });
    const reported = new Promise((resolve) => client.on('error', resolve));
    socket.receive({ event: 'order-status', data: { id: '1', status: 'paid' } });
    expect(await reported).toBe(boom);
    expect(errors).toEqual([boom]);
  });

  it('rethrows outside the client a handler error nobody listens for', async () => {
    client.off('error');
    const socket = await socketCreated();
    socket.open();
    const boom = new Error('unheard');
    client.on('order-status', () => {
      throw boom;
    });
    const uncaught = new Promise((resolve) => process.once('uncaughtException', resolve));
    socket.receive({ event: 'order-status', data: { id: '1', status: 'paid' } });
    expect(await uncaught).toBe(boom);
  });

  it('ignores frames from a socket it has replaced', async () => {
    const first = await socketCreated();
    first.open();
    first.drop();
    const second = await socketCreated();
    expect(second).not.toBe(first);
    const seen: unknown[] = [];
    client.on('order-status', (data) => seen.push(data));
    first.receive({ event: 'order-status', data: { id: 'stale', status: 'x' } });
    expect(seen).toEqual([]);
  });
});

describe('send', () => {
  it('writes at once when open', async () => {
    const socket = await socketCreated();
    socket.open();
    expect(client.send('ping', 1)).toBe(true);
    expect(socket.sent).toEqual([{ event: 'ping', data: 1 }]);
  });

  it('queues while not open and sends in order after the watches once open', async () => {
    client.watch('order-status', 1);
    expect(client.send('ping', 1)).toBe(true);
    expect(client.send('ping', 2)).toBe(true);
    const socket = await socketCreated();
    socket.open();
    expect(socket.sent).toEqual([
      { event: 'watch', data: { event: 'order-status', payload: '1' } },
      { event: 'ping', data: 1 },
      { event: 'ping', data: 2 },
    ]);
  });

  it('serialises when called, so later changes to the data do not leak into a queued message', async () => {
    const note = { text: 'before' };
    client.send('note', note);
    note.text = 'after';
    const socket = await socketCreated();
    socket.open();
    expect(socket.sent).toEqual([{ event: 'note', data: { text: 'before' } }]);
  });

  it('keeps at most maxQueuedMessages and refuses the newer ones', async () => {
    await client.close();
    make({ maxQueuedMessages: 2 });
    expect([client.send('ping', 1), client.send('ping', 2), client.send('ping', 3)]).toEqual([true, true, false]);
    const socket = await socketCreated();
    socket.open();
    expect(socket.sent).toEqual([
      { event: 'ping', data: 1 },
      { event: 'ping', data: 2 },
    ]);
    socket.drop();
    // The queue was emptied, so it has room again.
    expect([client.send('ping', 4), client.send('ping', 5), client.send('ping', 6)]).toEqual([true, true, false]);
  });

  it('with maxQueuedMessages: 0, refuses everything sent while not open', async () => {
    await client.close();
    make({ maxQueuedMessages: 0 });
    expect(client.send('ping', 1)).toBe(false);
    const socket = await socketCreated();
    socket.open();
    expect(socket.sent).toEqual([]);
  });

  it('drops the queue on close() and refuses sends after it', async () => {
    client.send('ping', 1);
    const socket = await socketCreated();
    await client.close();
    expect(client.send('ping', 2)).toBe(false);
    socket.onopen?.({});
    expect(socket.sent).toEqual([]);
  });

  it('drops the queue when the server stops the client', async () => {
    const socket = await socketCreated();
    socket.open();
    socket.serverClose(4000);
    expect(client.send('ping', 1)).toBe(false);
  });

  it.each([
    ['watch', 'send() cannot send "watch"; use watch() and Subscription.unwatch()'],
    ['unwatch', 'send() cannot send "unwatch"'],
    ['', 'send() "event" must be a non-empty string, got ""'],
  ])('refuses send(%j) with a TypeError', (event, message) => {
    expect(() => client.send(event as 'ping', 1)).toThrow(TypeError);
    expect(() => client.send(event as 'ping', 1)).toThrow(message);
  });

  it('throws for data JSON cannot write, in the caller', () => {
    expect(() => client.send('note', { big: 1n })).toThrow(TypeError);
  });
});

describe('a resume answered failed', () => {
  it('hands out what came before the answer as it came, then says recovered: false, then newer messages', async () => {
    const log: string[] = [];
    client.on('order-status', ({ id }) => log.push(id));
    client.on('recovered', ({ recovered }) => log.push(`recovered ${recovered}`));
    const first = await socketCreated();
    first.open();
    first.receive({ event: 'wshub:welcome', data: { protocol: 2, recovery: { epoch: 'e1', offset: 10 } } });
    first.receive({ event: 'order-status', data: { id: '11', status: 'paid' }, offset: 11 });
    first.drop();
    const second = await socketCreated();
    second.open();
    const at = second.sent.findIndex((frame) => (frame as { event?: string }).event === 'wshub:resume');
    expect(second.sent[at]).toEqual({ event: 'wshub:resume', data: { epoch: 'e1', offset: 11 } });
    // The server's history restarted (a new epoch): live messages came before the answer, whose offset was taken first.
    second.receive({ event: 'order-status', data: { id: 'a', status: 'paid' }, offset: 500 });
    second.receive({ event: 'order-status', data: { id: 'b', status: 'paid' } }); // not recorded: no offset
    second.receive({ event: 'order-status', data: { id: 'c', status: 'paid' }, offset: 501 });
    second.receive({ event: 'wshub:ack', data: { id: second.ids[at], op: 'resume', status: 'failed', missed: 0, epoch: 'e2', offset: 501 } });
    second.receive({ event: 'order-status', data: { id: 'd', status: 'paid' }, offset: 502 });
    second.receive({ event: 'order-status', data: { id: 'c', status: 'paid' }, offset: 501 }); // seen already: dropped
    // Everything before the answer lies before the event, the plain 'b' in its place among them.
    expect(log).toEqual(['11', 'a', 'b', 'c', 'recovered false', 'd']);
  });
});
