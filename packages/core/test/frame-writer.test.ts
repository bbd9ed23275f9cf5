/**
 * The frame writer writes frames straight to ws's underlying socket. These
 * tests pin every `ws` internal it relies on, so a `ws` upgrade that
 * changes one fails here, by name, before anything misbehaves in
 * production; then they check the writer's own rules over real sockets.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import * as wsExports from 'ws';
import { WebSocket, WebSocketServer } from 'ws';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { headerLength, textFrame, writePrepared } from '../src/transport/frame-writer.js';
import type { PreparedMessage } from '../src/session/connection.js';

/** ws exports its Sender (the ESM wrapper and the CJS index both do); @types/ws does not declare it. */
const { Sender } = wsExports as unknown as {
  Sender: { frame(data: Buffer, options: Record<string, unknown>): Buffer[] };
};

function prepared(text: string): PreparedMessage {
  return { event: 'e', text, byteLength: Buffer.byteLength(text), reply: false };
}

const nextTick = () => new Promise<void>((resolve) => process.nextTick(resolve));

/** A `ws` server on 127.0.0.1:0 with one connected client; the server side is what the hub writes to. */
interface Pair {
  server: WebSocket;
  client: WebSocket;
  /** Everything the client saw, in order: messages as text, pings as `ping:<data>`, the close as `close:<code>`. */
  seen: string[];
  /** Resolves once `seen` has `count` entries. */
  until(count: number): Promise<string[]>;
}

let http: Server;
let wss: WebSocketServer;
let pairs: Pair[] = [];

beforeEach(async () => {
  http = createServer();
  wss = new WebSocketServer({ server: http, perMessageDeflate: false });
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
});

afterEach(async () => {
  for (const p of pairs) {
    p.client.terminate();
    p.server.terminate();
  }
  pairs = [];
  wss.close();
  http.closeAllConnections();
  await new Promise<void>((resolve) => http.close(() => resolve()));
});

async function connect(): Promise<Pair> {
  const accepted = once(wss, 'connection') as Promise<[WebSocket]>;
  const client = new WebSocket(`ws://127.0.0.1:${(http.address() as AddressInfo).port}`);
  client.on('error', () => {});
  const seen: string[] = [];
  const waiters: Array<() => void> = [];
  const record = (entry: string) => {
    seen.push(entry);
    for (const w of waiters.splice(0)) w();
  };
  client.on('message', (data) => record(data.toString()));
  client.on('ping', (data) => record(`ping:${data.toString()}`));
  client.on('close', (code) => record(`close:${code}`));
  const [[server]] = await Promise.all([accepted, once(client, 'open')]);
  server.on('error', () => {});
  const until = async (count: number) => {
    while (seen.length < count) {
      await new Promise<void>((resolve) => {
        waiters.push(resolve);
        setTimeout(resolve, 2000).unref();
      });
      if (seen.length < count && client.readyState === WebSocket.CLOSED) break;
    }
    return seen;
  };
  const pair = { server, client, seen, until };
  pairs.push(pair);
  return pair;
}

/** The internals as the writer reads them. */
function internals(ws: WebSocket) {
  return ws as unknown as {
    _socket: Duplex & { _writableState: { length: number }; _writev?: unknown };
    _sender: { _state: number; _queue: unknown[]; _bufferedBytes: number };
  };
}

describe('ws internals the frame writer relies on (ws pinned in package.json)', () => {
  it('a server-side WebSocket exposes its net.Socket as `_socket`, with cork/uncork/write', async () => {
    const { server } = await connect();
    const raw = internals(server)._socket;
    expect(raw).toBeDefined();
    expect(typeof raw.write).toBe('function');
    expect(typeof raw.cork).toBe('function');
    expect(typeof raw.uncork).toBe('function');
    expect(typeof raw._writev).toBe('function');
  });

  it('`_sender` is idle (`_state === 0`, empty `_queue`) when no send of its own is in flight', async () => {
    const { server } = await connect();
    const sender = internals(server)._sender;
    expect(sender._state).toBe(0);
    expect(Array.isArray(sender._queue)).toBe(true);
    expect(sender._queue).toHaveLength(0);
  });

  it('`_sender` is not idle while a Blob is being read, and queues sends behind it', async () => {
    const { server } = await connect();
    const sender = internals(server)._sender;
    server.send(new Blob(['blob']));
    expect(sender._state).not.toBe(0);
    server.send('after');
    expect(sender._queue.length).toBeGreaterThan(0);
  });

  it('`bufferedAmount` counts bytes written to `_socket` and not yet sent, corked ones included', async () => {
    const { server } = await connect();
    const raw = internals(server)._socket;
    raw.cork();
    raw.write(Buffer.alloc(1000));
    expect(server.bufferedAmount).toBeGreaterThanOrEqual(1000);
    raw.uncork();
  });

  it("`Sender.frame` still makes the frames textFrame mirrors (checked against it below)", () => {
    expect(typeof Sender.frame).toBe('function');
  });
});

describe('textFrame', () => {
  it.each([0, 1, 125, 126, 127, 65_535, 65_536, 200_000])('matches ws framing for a %i-byte payload', (size) => {
    const text = 'a'.repeat(size);
    const expected = Buffer.concat(
      Sender.frame(Buffer.from(text), { fin: true, opcode: 1, mask: false, readOnly: false, rsv1: false }),
    );
    const frame = textFrame(text);
    expect(frame.equals(expected)).toBe(true);
    expect(headerLength(frame)).toBe(frame.length - size);
  });

  it('frames multi-byte UTF-8 by its byte length', () => {
    const text = '{"data":"zß水🚀"}';
    const frame = textFrame(text);
    expect(frame.subarray(headerLength(frame)).toString('utf8')).toBe(text);
    expect(frame[1]).toBe(Buffer.byteLength(text));
  });
});

describe('writePrepared', () => {
  it('delivers the message text, framing it once and caching the frame on the message', async () => {
    const a = await connect();
    const b = await connect();
    const message = prepared(JSON.stringify({ event: 'e', data: 'ü'.repeat(70_000) }));
    const frameOf = () => Object.getOwnPropertySymbols(message).map((key) => (message as unknown as Record<symbol, Buffer>)[key]);
    writePrepared(a.server, message);
    const [frame] = frameOf();
    expect(frame).toBeInstanceOf(Buffer);
    writePrepared(b.server, message);
    expect(frameOf()).toEqual([frame]);
    expect(frameOf()[0]).toBe(frame);
    expect(await a.until(1)).toEqual([message.text]);
    expect(await b.until(1)).toEqual([message.text]);
  });

  it('writes the first frame of a tick at once and coalesces the rest of the tick into one writev', async () => {
    const { server, until } = await connect();
    const raw = internals(server)._socket;
    const write = vi.spyOn(raw, 'write');
    const writev = vi.spyOn(raw as unknown as { _writev: (...args: unknown[]) => void }, '_writev');
    writePrepared(server, prepared('m1'));
    expect(raw.writableCorked).toBe(0);
    for (let i = 2; i <= 5; i++) writePrepared(server, prepared(`m${i}`));
    expect(raw.writableCorked).toBe(1);
    expect(write).toHaveBeenCalledTimes(5);
    expect(writev).not.toHaveBeenCalled();
    await nextTick();
    expect(raw.writableCorked).toBe(0);
    expect(writev).toHaveBeenCalledTimes(1);
    expect((writev.mock.calls[0]![0] as unknown[]).length).toBe(4);
    expect(await until(5)).toEqual(['m1', 'm2', 'm3', 'm4', 'm5']);
  });

  it('corks a socket from its first write after a tick in which it got several (steady bursts: one write per tick)', async () => {
    const { server, until } = await connect();
    const raw = internals(server)._socket;
    writePrepared(server, prepared('a1'));
    writePrepared(server, prepared('a2'));
    await nextTick();
    const writev = vi.spyOn(raw as unknown as { _writev: (...args: unknown[]) => void }, '_writev');
    writePrepared(server, prepared('b1'));
    expect(raw.writableCorked).toBe(1);
    writePrepared(server, prepared('b2'));
    writePrepared(server, prepared('b3'));
    await nextTick();
    expect(writev).toHaveBeenCalledTimes(1);
    expect((writev.mock.calls[0]![0] as unknown[]).length).toBe(3);
    // A tick with a single write ends the burst: the next first write goes out at once again.
    writePrepared(server, prepared('c1'));
    await nextTick();
    writePrepared(server, prepared('d1'));
    expect(raw.writableCorked).toBe(0);
    expect(await until(7)).toEqual(['a1', 'a2', 'b1', 'b2', 'b3', 'c1', 'd1']);
  });

  it("keeps order with ws's own frames written in the same tick (ping, close)", async () => {
    const { server, until } = await connect();
    writePrepared(server, prepared('one'));
    writePrepared(server, prepared('two'));
    server.ping('p');
    writePrepared(server, prepared('three'));
    server.close(4000, 'bye');
    expect(await until(5)).toEqual(['one', 'two', 'ping:p', 'three', 'close:4000']);
  });

  it('goes through ws.send, in order, while ws has a send of its own in flight', async () => {
    const { server, until } = await connect();
    server.send(new Blob(['blob']));
    writePrepared(server, prepared('after-blob'));
    writePrepared(server, prepared('after-that'));
    expect(await until(3)).toEqual(['blob', 'after-blob', 'after-that']);
  });

  it('counts corked bytes in bufferedAmount, so the hub can apply maxBufferedBytes before each write', async () => {
    const { server } = await connect();
    const big = prepared('x'.repeat(10_000));
    writePrepared(server, prepared('first'));
    writePrepared(server, big);
    expect(server.bufferedAmount).toBeGreaterThanOrEqual(10_000);
    await nextTick();
  });

  it('drops what a terminated socket had queued, without throwing at the end of the tick', async () => {
    const { server, client } = await connect();
    writePrepared(server, prepared('a'));
    writePrepared(server, prepared('b'));
    server.terminate();
    await nextTick();
    await once(client, 'close');
    expect(server.readyState).toBe(WebSocket.CLOSED);
  });

  it('falls back to send() for a socket without ws internals', () => {
    const send = vi.fn();
    writePrepared({ send } as unknown as WebSocket, prepared('{"event":"e"}'));
    expect(send).toHaveBeenCalledTimes(1);
    expect(send.mock.calls[0]![0].toString()).toBe('{"event":"e"}');
  });
});
