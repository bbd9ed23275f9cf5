import { afterEach, describe, expect, it } from 'vitest';
import { decodeEnvelope } from '../src/brokers/cluster-broker.js';
import {
  CONFIRM,
  type HubStats,
  InMemoryBroker,
  InMemoryBus,
  type MessageDelivered,
  type MessageUndelivered,
  WsHub,
} from '../src/index.js';
import { untagText } from '../src/brokers/receipt-tag.js';
import { type Fixture, startHub, type TestSocket, type User, userFromRequest } from './helpers.js';

let fixtures: Fixture[] = [];
afterEach(async () => {
  await Promise.all(fixtures.map((f) => f.close()));
  fixtures = [];
});

async function hub(options: Parameters<typeof startHub>[0] = {}): Promise<Fixture> {
  const f = await startHub({ receipts: { undeliveredAfterMs: 300 }, ...options });
  fixtures.push(f);
  return f;
}

/** A v2 client of `user` on `device`, past its welcome (and registered on the hub). */
async function device(f: Fixture, user: string, fp = 'phone', v2 = true): Promise<TestSocket> {
  const ready = new Promise<void>((resolve) => {
    const onReady = ({ socket }: { socket: { roomId: string; deviceFingerprint: string } }) => {
      if (socket.roomId === user && socket.deviceFingerprint === fp) {
        f.hub.off('ready', onReady);
        resolve();
      }
    };
    f.hub.on('ready', onReady);
  });
  const client = f.connect(`user=${user}&device=${fp}`, v2 ? { protocols: ['wshub'] } : {});
  await Promise.all([ready, client.opened]);
  if (v2) expect((await client.next()).event).toBe('wshub:welcome');
  return client;
}

/** Every earlier frame of `client` was handled by the hub. */
async function sync(client: TestSocket): Promise<void> {
  await client.request('unwatch', { event: 'wshub:sync' });
}

function record(f: Fixture) {
  const delivered: MessageDelivered[] = [];
  const undelivered: MessageUndelivered[] = [];
  f.hub.on('delivered', (e) => delivered.push(e));
  f.hub.on('undelivered', (e) => undelivered.push(e));
  return { delivered, undelivered };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(check: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(5);
  }
}

describe('message ids', () => {
  it('sendMessage and push resolve with options.id, else an id the hub made, with receipts off too', async () => {
    const f = await startHub();
    fixtures.push(f);
    expect(await f.hub.sendMessage('u1', 'e', 1, null, { id: 'order-7' })).toBe('order-7');
    const a = await f.hub.sendMessage('u1', 'e', 1);
    const b = await f.hub.push('e', 1);
    expect(typeof a).toBe('string');
    expect(typeof b).toBe('string');
    expect(a).not.toBe(b);
    // A repeat of a recent id is dropped, and still resolves with it.
    expect(await f.hub.sendMessage('u1', 'e', 1, null, { id: 'order-7' })).toBe('order-7');
  });

  it('v2 frames carry the id only with receipts on; v1 frames never do', async () => {
    const off = await startHub();
    fixtures.push(off);
    const plain = await device(off, 'u1');
    await off.hub.sendMessage('u1', 'e', 1);
    expect(await plain.next()).toEqual({ event: 'e', data: 1 });

    const on = await hub();
    const v2 = await device(on, 'u1', 'a');
    const v1 = await device(on, 'u1', 'b', false);
    const id = await on.hub.sendMessage('u1', 'e', { x: 1 });
    expect(await v2.next()).toEqual({ event: 'e', data: { x: 1 }, id });
    expect(await v1.next()).toEqual({ event: 'e', data: { x: 1 } });
  });

  it('with receipts off, v2 frames carry an explicit options.id (sendMessage and push), and the welcome says receipts: false', async () => {
    const off = await startHub();
    fixtures.push(off);
    const v2 = off.connect('user=u1&device=a', { protocols: ['wshub'] });
    expect(await v2.next()).toEqual({ event: 'wshub:welcome', data: { protocol: 2, receipts: false } });
    const v1 = await device(off, 'u1', 'b', false);
    await until(() => off.hub.socketsOf('u1').length === 2);
    await off.hub.sendMessage('u1', 'e', 1, null, { id: 'row-1' });
    await off.hub.sendMessage('u1', 'e', 2);
    await off.hub.push('p', 3, null, undefined, { id: 'row-2' });
    await off.hub.push('p', 4, (u) => u.id === 'u1', undefined, { id: 'row-3' });
    expect([await v2.next(), await v2.next(), await v2.next(), await v2.next()]).toEqual([
      { event: 'e', data: 1, id: 'row-1' },
      { event: 'e', data: 2 },
      { event: 'p', data: 3, id: 'row-2' },
      { event: 'p', data: 4, id: 'row-3' },
    ]);
    expect([await v1.next(), await v1.next(), await v1.next(), await v1.next()]).toEqual([
      { event: 'e', data: 1 },
      { event: 'e', data: 2 },
      { event: 'p', data: 3 },
      { event: 'p', data: 4 },
    ]);
  });

  it('with receipts off, the id travels to another node and through the history (live and replayed), after the offset', async () => {
    const bus = new InMemoryBus();
    const a = await startHub({ broker: new InMemoryBroker(bus) });
    const b = await startHub({ broker: new InMemoryBroker(bus) });
    fixtures.push(a, b);
    const there = await device(b, 'u1');
    await sleep(20); // presence and the user's channel on the bus
    await a.hub.sendMessage('u1', 'e', 1, null, { id: 'row-1' });
    await a.hub.sendMessage('u1', 'e', 2);
    expect([await there.next(), await there.next()]).toEqual([{ event: 'e', data: 1, id: 'row-1' }, { event: 'e', data: 2 }]);

    const r = await startHub({ recovery: true });
    fixtures.push(r);
    const first = await device(r, 'u1');
    const position = (first.messages[0]!.data as { recovery: { epoch: string; offset: number } }).recovery;
    await r.hub.sendMessage('u1', 'e', 3, null, { id: 'row-3' });
    expect(await first.next()).toEqual({ event: 'e', data: 3, offset: 1, id: 'row-3' });
    first.close();
    await first.waitForClose();
    await until(() => r.hub.socketsOf('u1').length === 0);
    const again = await device(r, 'u1');
    expect(await again.request('wshub:resume', position)).toMatchObject({ status: 'recovered', missed: 1 });
    expect(await again.next()).toEqual({ event: 'e', data: 3, offset: 1, id: 'row-3' });
  });
});

describe("'delivered'", () => {
  it('fires once per confirming device, with its fingerprint and socket id, and no undelivered', async () => {
    const f = await hub();
    const events = record(f);
    const phone = await device(f, 'u1', 'phone');
    const laptop = await device(f, 'u1', 'laptop');
    const id = await f.hub.sendMessage('u1', 'order-status', { id: 42 });
    for (const client of [phone, laptop]) {
      const m = await client.next();
      client.emit(CONFIRM, { ids: [m.id] });
      // A repeat of the same confirmation is ignored.
      client.emit(CONFIRM, { ids: [m.id] });
      await sync(client);
    }
    await sleep(450);
    expect(events.undelivered).toEqual([]);
    expect(events.delivered.map((e) => e.deviceFingerprint).sort()).toEqual(['laptop', 'phone']);
    const sockets = f.hub.socketsOf('u1').map((s) => s.id).sort();
    expect(events.delivered.map((e) => e.socketId).sort()).toEqual(sockets);
    for (const e of events.delivered) {
      expect(e).toMatchObject({ id, userId: 'u1', event: 'order-status' });
      expect(e.late).toBeUndefined();
      expect(typeof e.at).toBe('number');
    }
    const stats = f.hub.stats();
    expect(stats).toMatchObject({ receiptsConfirmed: 2, receiptsIgnored: 2, receiptsDelivered: 2, receiptsUndelivered: 0, receiptsPending: 0 });
  });

  it('says late when it comes after undelivered fired', async () => {
    const f = await hub({ receipts: { undeliveredAfterMs: 100 } });
    const events = record(f);
    const client = await device(f, 'u1');
    const id = await f.hub.sendMessage('u1', 'e', 1);
    const m = await client.next();
    await until(() => events.undelivered.length === 1);
    client.emit(CONFIRM, { ids: [m.id] });
    await until(() => events.delivered.length === 1);
    expect(events.delivered[0]).toMatchObject({ id, late: true });
  });

  it("settles and counts with no 'delivered' handler (an app that only hands off 'undelivered')", async () => {
    const f = await hub({ receipts: { undeliveredAfterMs: 200 } });
    const undelivered: MessageUndelivered[] = [];
    f.hub.on('undelivered', (e) => undelivered.push(e));
    const client = await device(f, 'u1');
    await f.hub.sendMessage('u1', 'e', 1);
    client.emit(CONFIRM, { ids: [(await client.next()).id] });
    await until(() => f.hub.stats().receiptsDelivered === 1);
    await sleep(300);
    expect(undelivered).toEqual([]);
    expect(f.hub.stats()).toMatchObject({ receiptsConfirmed: 1, receiptsDelivered: 1, receiptsPending: 0 });
    // A handler added later gets the next one, late or not.
    const delivered: MessageDelivered[] = [];
    f.hub.on('delivered', (e) => delivered.push(e));
    const id = await f.hub.sendMessage('u1', 'e', 2);
    client.emit(CONFIRM, { ids: [(await client.next()).id] });
    await until(() => delivered.length === 1);
    expect(delivered[0]).toMatchObject({ id, userId: 'u1', event: 'e' });
    expect(delivered[0]!.late).toBeUndefined();
  });

  it('counts several confirmations in one frame (the client batches)', async () => {
    const f = await hub();
    const events = record(f);
    const client = await device(f, 'u1');
    const ids = await Promise.all([1, 2, 3].map((n) => f.hub.sendMessage('u1', 'e', n)));
    const got = [await client.next(), await client.next(), await client.next()];
    client.emit(CONFIRM, { ids: got.map((m) => m.id) });
    await until(() => events.delivered.length === 3);
    expect(events.delivered.map((e) => e.id)).toEqual(ids);
  });
});

describe("'undelivered'", () => {
  it('fires once, after the delay, for a user with no device online; with data and scope', async () => {
    const f = await hub();
    const events = record(f);
    const started = Date.now();
    const id = await f.hub.sendMessage('away', 'order-status', { id: 42 }, '42');
    expect(f.hub.stats().receiptsPending).toBe(1);
    await until(() => events.undelivered.length === 1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(events.undelivered[0]).toEqual({ id, userId: 'away', event: 'order-status', data: { id: 42 }, scope: '42' });
    await sleep(350);
    expect(events.undelivered).toHaveLength(1);
    expect(f.hub.stats()).toMatchObject({ receiptsPending: 0, receiptsUndelivered: 1 });
  });

  it("an async 'undelivered' handler that rejects (a hand-off that failed) is reported through 'error', not left unhandled", async () => {
    const f = await hub();
    const errors: Array<{ source: string; message: string }> = [];
    f.hub.on('error', (e) => errors.push({ source: e.source, message: e.message }));
    let handedOff = 0;
    f.hub.on('undelivered', async () => {
      await sleep(5);
      throw new Error('the mail server refused it');
    });
    f.hub.on('undelivered', () => {
      handedOff++;
    });
    await f.hub.sendMessage('away', 'order-status', { id: 42 });
    await until(() => errors.length === 1);
    expect(errors[0]!.source).toBe("'undelivered' handler");
    expect(errors[0]!.message).toContain('the mail server refused it');
    expect(handedOff).toBe(1);
  });

  it('fires for a device that got the message but never confirmed it', async () => {
    const f = await hub();
    const events = record(f);
    const client = await device(f, 'u1');
    await f.hub.sendMessage('u1', 'e', 1);
    await client.next();
    await until(() => events.undelivered.length === 1);
    expect(events.delivered).toEqual([]);
  });

  it('a v1 client never confirms: its messages go undelivered unless confirmV1OnWrite', async () => {
    const f = await hub();
    const events = record(f);
    const v1 = await device(f, 'u1', 'old', false);
    v1.emit(CONFIRM, { ids: ['x'] }); // an app event from a v1 client
    await f.hub.sendMessage('u1', 'e', 1);
    expect((await v1.next()).event).toBe('e');
    await until(() => events.undelivered.length === 1);

    const g = await hub({ receipts: { undeliveredAfterMs: 300, confirmV1OnWrite: true } });
    const gEvents = record(g);
    const v1g = await device(g, 'u1', 'old', false);
    const id = await g.hub.sendMessage('u1', 'e', 1);
    await v1g.next();
    await sleep(400);
    expect(gEvents.undelivered).toEqual([]);
    expect(gEvents.delivered).toMatchObject([{ id, deviceFingerprint: 'old' }]);
  });

  it('past maxPendingPerUser the oldest of that user resolve as undelivered at once', async () => {
    const f = await hub({ receipts: { undeliveredAfterMs: 60_000, maxPendingPerUser: 3, maxPending: 5 } });
    const events = record(f);
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push(await f.hub.sendMessage('a', 'e', i));
    expect(events.undelivered.map((e) => e.id)).toEqual([ids[0]]);
    for (let i = 0; i < 3; i++) ids.push(await f.hub.sendMessage(`u${i}`, 'e', i));
    // 3 of a, then 3 more users: 6 > maxPending 5, so a's oldest left goes.
    expect(events.undelivered.map((e) => e.id)).toEqual([ids[0], ids[1]]);
    expect(f.hub.stats().receiptsPending).toBe(5);
  });
});

describe('confirmations a client may not make', () => {
  it("ignores and counts another user's ids, unknown ids and ids never written to that socket", async () => {
    const f = await hub();
    const events = record(f);
    const alice = await device(f, 'alice');
    const mallory = await device(f, 'mallory');
    const id = await f.hub.sendMessage('alice', 'secret', 1);
    const m = await alice.next();
    expect(m.id).toBe(id);
    mallory.emit(CONFIRM, { ids: [id, 'made-up', `${id}x`] });
    await sync(mallory);
    expect(f.hub.stats().receiptsIgnored).toBe(3);
    await until(() => events.undelivered.length === 1);
    expect(events.delivered).toEqual([]);
    expect(mallory.closed).toBeUndefined();
  });

  it.each([
    ['no data', undefined],
    ['no ids', {}],
    ['empty ids', { ids: [] }],
    ['a number id', { ids: [1] }],
    ['too many ids', { ids: Array.from({ length: 257 }, (_, i) => String(i)) }],
  ])('answers a malformed confirm (%s) with an exception; the socket stays open', async (_name, data) => {
    const f = await hub();
    const client = await device(f, 'u1');
    client.emit(CONFIRM, data);
    expect(await client.next()).toEqual({
      event: 'exception',
      data: { status: 'error', message: 'wshub:confirm "data.ids" must be an array of 1 to 256 strings' },
    });
    await sync(client);
    expect(client.closed).toBeUndefined();
  });

  it('counts confirm frames against the message rate limit', async () => {
    const f = await hub({ limits: { messageRate: 5, messageBurst: 5 } });
    const client = await device(f, 'u1');
    for (let i = 0; i < 20; i++) client.emit(CONFIRM, { ids: ['x'] });
    expect((await client.waitForClose()).code).toBe(4429);
  });
});

describe('push', () => {
  it('keeps receipts for the users online when it is sent; each confirms for itself', async () => {
    const f = await hub();
    const events = record(f);
    const a = await device(f, 'a');
    const b = await device(f, 'b');
    const id = await f.hub.push('news', { n: 1 });
    expect(f.hub.stats().receiptsPending).toBe(2);
    const m = await a.next();
    expect(m).toEqual({ event: 'news', data: { n: 1 }, id });
    a.emit(CONFIRM, { ids: [id] });
    expect((await b.next()).id).toBe(id);
    await until(() => events.undelivered.length === 1);
    expect(events.delivered).toMatchObject([{ id, userId: 'a' }]);
    expect(events.undelivered).toEqual([{ id, userId: 'b', event: 'news', data: { n: 1 }, scope: null }]);
  });

  it('per-user data: undelivered carries that user’s data', async () => {
    const f = await hub();
    const events = record(f);
    await device(f, 'a');
    const id = await f.hub.push('hello', (user: User) => ({ to: user.id }));
    await until(() => events.undelivered.length === 1);
    expect(events.undelivered[0]).toEqual({ id, userId: 'a', event: 'hello', data: { to: 'a' }, scope: null });
  });
});

describe('with recovery', () => {
  it('a message replayed by a resume is confirmed like any other', async () => {
    const f = await hub({ recovery: true, receipts: { undeliveredAfterMs: 2000 } });
    const events = record(f);
    const first = await device(f, 'u1');
    const position = (first.messages[0]!.data as { recovery: { epoch: string; offset: number } }).recovery;
    first.close();
    await first.waitForClose();
    await until(() => f.hub.socketsOf('u1').length === 0);
    const id = await f.hub.sendMessage('u1', 'missed', 1);
    const again = await device(f, 'u1');
    const ack = await again.request('wshub:resume', position);
    expect(ack).toMatchObject({ status: 'recovered', missed: 1 });
    const m = await again.next();
    expect(m).toMatchObject({ event: 'missed', data: 1, id });
    expect(typeof m.offset).toBe('number');
    again.emit(CONFIRM, { ids: [id] });
    await until(() => events.delivered.length === 1);
    expect(events.delivered[0]).toMatchObject({ id, userId: 'u1' });
    expect(events.delivered[0]!.late).toBeUndefined();
  });
});

describe('across nodes (in-memory bus)', () => {
  it('a confirmation on another node reaches the sender’s node only, on its node channel', async () => {
    const bus = new InMemoryBus();
    const a = await hub({ broker: new InMemoryBroker(bus) });
    const b = await hub({ broker: new InMemoryBroker(bus) });
    const c = await hub({ broker: new InMemoryBroker(bus) });
    const [ea, eb, ec] = [record(a), record(b), record(c)];
    const client = await device(b, 'u1');
    await sleep(20); // presence and the user's channel on the bus
    const id = await a.hub.sendMessage('u1', 'e', 1);
    const m = await client.next();
    const receivedBefore = (c.hub.stats() as HubStats).broker.received ?? 0;
    client.emit(CONFIRM, { ids: [m.id] });
    await until(() => ea.delivered.length === 1);
    expect(ea.delivered[0]).toMatchObject({ id, userId: 'u1', deviceFingerprint: 'phone' });
    await sleep(350);
    expect(ea.undelivered).toEqual([]);
    expect([eb, ec].flatMap((e) => [...e.delivered, ...e.undelivered])).toEqual([]);
    // Node c never saw the confirmation: it went to a's channel alone.
    expect(c.hub.stats().broker.received).toBe(receivedBefore);
  });
});

describe('the receipt tag', () => {
  it('is found only as the last member of the frame, never inside data', () => {
    const nested = JSON.stringify({ event: 'e', data: { a: 1, 'wshub:r': ['x', 'y'] } });
    expect(untagText(nested)).toBeUndefined();
    const tagged = `${nested.slice(0, -1)},"wshub:r":["id","node"]}`;
    expect(untagText(tagged)).toEqual({ text: nested, tag: { id: 'id', origin: 'node' } });
  });

  it('is read from the text of an envelope without an id beside it (as a node of an earlier version sends it)', async () => {
    const bus = new InMemoryBus();
    const b = await hub({ broker: new InMemoryBroker(bus) });
    const seen = record(b);
    const client = await device(b, 'u1');
    const frame = JSON.stringify({ event: 'order', data: { n: 1 } });
    const message = `${frame.slice(0, -1)},"wshub:r":["m1","old-node"]}`;
    bus.publish('wshub:user:u1', JSON.stringify({ o: 'old-node', e: { kind: 'send', userId: 'u1', event: 'order', filter: null, message } }));
    expect(await client.next()).toEqual({ event: 'order', data: { n: 1 }, id: 'm1' });
    // Its confirmation goes to the node the tag names, not settled here.
    const toOldNode = new Promise<string>((resolve) => bus.subscribe('wshub:node:old-node', (_channel, data) => resolve(data)));
    client.emit(CONFIRM, { ids: ['m1'] });
    expect(JSON.parse(await toOldNode).e).toMatchObject({ kind: 'receipt', origin: 'old-node', items: [['u1', 'phone', expect.any(String), expect.any(Number), 'm1', 'order']] });
    expect(seen.delivered).toEqual([]);
  });

  it("a message's id and origin travel beside its frame in an envelope, checked like the rest", () => {
    const send = { kind: 'send', userId: 'u1', event: 'e', filter: null, message: '{"event":"e","data":1}' };
    expect(decodeEnvelope(JSON.stringify({ o: 'x', e: send }))).toBeDefined();
    expect(decodeEnvelope(JSON.stringify({ o: 'x', e: { ...send, id: 'm1' } }))).toBeDefined();
    expect(decodeEnvelope(JSON.stringify({ o: 'x', e: { ...send, id: 'm1', origin: 'n' } }))).toBeDefined();
    expect(decodeEnvelope(JSON.stringify({ o: 'x', e: { ...send, id: 1 } }))).toBeUndefined();
    expect(decodeEnvelope(JSON.stringify({ o: 'x', e: { ...send, id: 'm1', origin: ['n'] } }))).toBeUndefined();
    // An origin without an id names a receipt of nothing.
    expect(decodeEnvelope(JSON.stringify({ o: 'x', e: { ...send, origin: 'n' } }))).toBeUndefined();
    const push = { kind: 'push', event: 'e', filter: true, message: '{"event":"e","data":1}' };
    expect(decodeEnvelope(JSON.stringify({ o: 'x', e: { ...push, id: 'm1', origin: 'n' } }))).toBeDefined();
    expect(decodeEnvelope(JSON.stringify({ o: 'x', e: { ...push, id: null } }))).toBeUndefined();
  });

  it('a receipt envelope is checked like every other', () => {
    const ok = { kind: 'receipt', origin: 'n', items: [['user', 'device', 'socket', 1, 'id', 'event', 'id2', 'event']] };
    expect(decodeEnvelope(JSON.stringify({ o: 'x', e: ok }))).toBeDefined();
    // Who, when, then (id, event) pairs: none, half a pair, a time that is not a number, an id that is not a string.
    expect(decodeEnvelope(JSON.stringify({ o: 'x', e: { ...ok, items: [['user', 'device', 'socket', 1]] } }))).toBeUndefined();
    expect(decodeEnvelope(JSON.stringify({ o: 'x', e: { ...ok, items: [['user', 'device', 'socket', 1, 'id']] } }))).toBeUndefined();
    expect(decodeEnvelope(JSON.stringify({ o: 'x', e: { ...ok, items: [['user', 'device', 'socket', '1', 'id', 'event']] } }))).toBeUndefined();
    expect(decodeEnvelope(JSON.stringify({ o: 'x', e: { ...ok, items: [['user', 'device', 'socket', 1, 7, 'event']] } }))).toBeUndefined();
    expect(decodeEnvelope(JSON.stringify({ o: 'x', e: { ...ok, origin: 1 } }))).toBeUndefined();
  });
});

describe('options', () => {
  it.each([
    [{ receipts: 'yes' }, 'wshub: option "receipts" must be true, false or { undeliveredAfterMs?, maxPendingPerUser?, maxPending?, confirmV1OnWrite? }, got "yes"'],
    [{ receipts: { undeliveredAfterMs: 0 } }, 'wshub: option "receipts.undeliveredAfterMs" must be a positive integer of at most 2147483647, got 0'],
    [{ receipts: { maxPending: 1.5 } }, 'wshub: option "receipts.maxPending" must be a positive integer of at most 9007199254740991, got 1.5'],
    [{ receipts: { confirmV1OnWrite: 1 } }, 'wshub: option "receipts.confirmV1OnWrite" must be a boolean, got 1'],
    [{ receipts: { maxPendng: 1 } }, 'wshub: unknown option "receipts.maxPendng"; the options are undeliveredAfterMs, maxPendingPerUser, maxPending, confirmV1OnWrite'],
  ])('refuses %j', (options, message) => {
    expect(() => new WsHub<User>({ authenticate: userFromRequest, ...(options as object) })).toThrow(message);
  });
});
