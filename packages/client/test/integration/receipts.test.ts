import type { MessageDelivered, MessageUndelivered } from '@wshub/core';
import { afterEach, describe, expect, it } from 'vitest';
import type { ReceivedMessage } from '../../src/index.js';
import { Clients } from '../support/clients.js';
import { TestHub } from '../support/hub.js';
import { hubEvent, inState, nextEvent } from '../support/wait.js';

const clients = new Clients();
const hubs: TestHub[] = [];

async function startHub(options: Parameters<typeof TestHub.start>[0] = {}): Promise<TestHub> {
  const hub = await TestHub.start({ receipts: { undeliveredAfterMs: 500 }, ...options });
  hubs.push(hub);
  return hub;
}

afterEach(async () => {
  await clients.closeAll();
  await Promise.all(hubs.splice(0).map((h) => h.stop()));
});

function receipts(test: TestHub) {
  const delivered: MessageDelivered[] = [];
  const undelivered: MessageUndelivered[] = [];
  test.hub.on('delivered', (e) => delivered.push(e));
  test.hub.on('undelivered', (e) => undelivered.push(e));
  return { delivered, undelivered };
}

async function until(check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A `{ get, set }` store in memory, as a file or a database would be in Node. */
function memoryStore() {
  const map = new Map<string, string>();
  return { map, get: (key: string) => map.get(key), set: (key: string, value: string) => void map.set(key, value) };
}

describe('HubClient confirms messages (receipts)', () => {
  it('confirms each message once its handlers returned, many in one frame', async () => {
    const test = await startHub();
    const seen = receipts(test);
    const frames: string[] = [];
    test.hub.on('ready', ({ socket }) => {
      (socket as unknown as { on(e: 'message', f: (d: Buffer) => void): void }).on('message', (d) => frames.push(String(d)));
    });
    const client = clients.create(test.url);
    const ids: Array<string | undefined> = [];
    client.on('announcement', (_data, message) => ids.push(message.id));
    await inState(client, 'open');
    const sent = await Promise.all([1, 2, 3].map((n) => test.hub.sendMessage('bob', 'announcement', { text: String(n) })));
    await until(() => seen.delivered.length === 3);
    expect(ids).toEqual(sent);
    expect(seen.delivered.map((e) => e.id)).toEqual(sent);
    expect(seen.delivered[0]).toMatchObject({ userId: 'bob', event: 'announcement' });
    // One wshub:confirm frame carried all three.
    const confirms = frames.filter((f) => f.includes('wshub:confirm'));
    expect(confirms.map((f) => JSON.parse(f).data.ids)).toEqual([sent]);
    await new Promise((r) => setTimeout(r, 600));
    expect(seen.undelivered).toEqual([]);
  });

  /** Every `wshub:confirm` frame the hub gets from its sockets, with when it came. */
  function confirmFrames(test: TestHub): Array<{ ids: string[]; at: number }> {
    const frames: Array<{ ids: string[]; at: number }> = [];
    test.hub.on('ready', ({ socket }) => {
      (socket as unknown as { on(e: 'message', f: (d: Buffer) => void): void }).on('message', (d) => {
        const frame = JSON.parse(String(d));
        if (frame.event === 'wshub:confirm') frames.push({ ids: frame.data.ids, at: performance.now() });
      });
    });
    return frames;
  }

  it('a burst of messages over many turns is confirmed in few frames, each id once', async () => {
    const test = await startHub();
    const seen = receipts(test);
    const frames = confirmFrames(test);
    const client = clients.create(test.url);
    client.on('announcement', () => {});
    await inState(client, 'open');
    // 120 messages, each in its own turn of the event loop: within one turn there is nothing to batch.
    const sent: string[] = [];
    for (let i = 0; i < 120; i++) {
      sent.push(await test.hub.sendMessage('bob', 'announcement', { text: String(i) }));
      await new Promise((r) => setImmediate(r));
    }
    await until(() => seen.delivered.length === 120);
    expect(frames.flatMap((f) => f.ids)).toEqual(sent);
    // At most 64 ids (the default) a frame, so at least 2 frames; far fewer than one per read
    // (3 here: those of the first turns at once, 64, the rest when the window ends; one per turn gave 35;
    // a busy machine stretches the burst over more windows).
    expect(frames.every((f) => f.ids.length <= 64)).toBe(true);
    expect(frames.length).toBeGreaterThanOrEqual(2);
    expect(frames.length).toBeLessThanOrEqual(15);
    expect(seen.delivered.map((e) => e.id)).toEqual(sent);
  });

  it('at most one frame per confirmBatch.withinMs: the first at once, the next with the others when the window ends; maxIds at once', async () => {
    const test = await startHub({ receipts: { undeliveredAfterMs: 5000 } });
    const seen = receipts(test);
    const frames = confirmFrames(test);
    // A window long enough that a loaded machine stays inside it between two sends.
    const client = clients.create(test.url, { confirmBatch: { withinMs: 1000, maxIds: 4 } });
    const handled: number[] = [];
    client.on('announcement', () => handled.push(performance.now()));
    await inState(client, 'open');
    const one = await test.hub.sendMessage('bob', 'announcement', { text: 'one' });
    await until(() => seen.delivered.length === 1);
    // No frame went before: it went at the end of its turn, not at the end of a window.
    expect(frames[0]!.ids).toEqual([one]);
    expect(frames[0]!.at - handled[0]!).toBeLessThan(500);
    // Within the window of that frame: the next waits for the window to end, with what comes meanwhile.
    const two = await test.hub.sendMessage('bob', 'announcement', { text: 'two' });
    await new Promise((r) => setTimeout(r, 50));
    const three = await test.hub.sendMessage('bob', 'announcement', { text: 'three' });
    await until(() => seen.delivered.length === 3);
    expect(frames[1]!.ids).toEqual([two, three]);
    expect(frames[1]!.at - frames[0]!.at).toBeGreaterThanOrEqual(900);
    // Ten in one go, within the window of that frame: two full batches of 4 at once, the last 2 when the window ends.
    const ten = await Promise.all(Array.from({ length: 10 }, (_, i) => test.hub.sendMessage('bob', 'announcement', { text: String(i) })));
    await until(() => seen.delivered.length === 13);
    expect(frames.slice(2).map((f) => f.ids)).toEqual([ten.slice(0, 4), ten.slice(4, 8), ten.slice(8)]);
    expect(frames[3]!.at - frames[1]!.at).toBeLessThan(500);
    expect(frames[4]!.at - frames[3]!.at).toBeGreaterThanOrEqual(900);
    // A quiet window later, at once again.
    await new Promise((r) => setTimeout(r, 1100));
    const last = await test.hub.sendMessage('bob', 'announcement', { text: 'last' });
    await until(() => seen.delivered.length === 14);
    expect(frames[5]!.ids).toEqual([last]);
    expect(frames[5]!.at - handled[13]!).toBeLessThan(500);
  });

  it('close() sends what the app confirmed before the socket closes', async () => {
    const test = await startHub();
    const seen = receipts(test);
    const client = clients.create(test.url);
    client.on('announcement', () => {});
    await inState(client, 'open');
    const id = await test.hub.sendMessage('bob', 'announcement', { text: 'last' });
    await nextEvent(client, 'announcement');
    // The handlers returned; the confirmation waits in its batch when the app closes.
    await client.close();
    await until(() => seen.delivered.length + seen.undelivered.length === 1, 3000);
    expect(seen.delivered.map((e) => e.id)).toEqual([id]);
  });

  it("with ack: 'manual', confirms only when the app calls message.ack()", async () => {
    const test = await startHub();
    const seen = receipts(test);
    const client = clients.create(test.url, { ack: 'manual' });
    const messages: ReceivedMessage[] = [];
    client.on('announcement', (_data, message) => messages.push(message));
    await inState(client, 'open');
    const shown = await test.hub.sendMessage('bob', 'announcement', { text: 'shown' });
    const ignored = await test.hub.sendMessage('bob', 'announcement', { text: 'not shown' });
    await until(() => messages.length === 2);
    messages[0]!.ack();
    messages[0]!.ack();
    await until(() => seen.delivered.length === 1 && seen.undelivered.length === 1);
    expect(seen.delivered[0]!.id).toBe(shown);
    expect(seen.undelivered[0]!.id).toBe(ignored);
    await new Promise((r) => setTimeout(r, 100));
    expect(seen.delivered).toHaveLength(1);
  });

  it('reload and resume from a stored position: what was sent while away arrives and is confirmed', async () => {
    const test = await startHub({ recovery: true, receipts: { undeliveredAfterMs: 3000 } });
    const seen = receipts(test);
    const store = memoryStore();
    const first = clients.create(test.url, { recover: { store } });
    first.on('announcement', () => {});
    await inState(first, 'open');
    await test.hub.sendMessage('bob', 'announcement', { text: 'before' });
    await nextEvent(first, 'announcement');
    await until(() => seen.delivered.length === 1);
    expect(JSON.parse(store.map.get('wshub:position')!)).toMatchObject({ offset: expect.any(Number) });
    // The page closes (or the app stops); messages come while nobody is there.
    const gone = hubEvent(test.hub, 'disconnected', (e) => e.userId === 'bob');
    await first.close();
    await gone;
    const missed = await test.hub.sendMessage('bob', 'announcement', { text: 'while away' });
    // A new client, as after a reload: it knows nothing but what the store kept.
    const second = clients.create(test.url, { recover: { store } });
    const got: string[] = [];
    second.on('announcement', ({ text }) => got.push(text));
    const recovered = nextEvent(second, 'recovered');
    expect(await recovered).toEqual({ recovered: true, missed: 1 });
    expect(got).toEqual(['while away']);
    await until(() => seen.delivered.length === 2);
    expect(seen.delivered[1]).toMatchObject({ id: missed, userId: 'bob' });
    expect(seen.delivered[1]!.late).toBeUndefined();
    expect(seen.undelivered).toEqual([]);
  });

  it('a store that answers later: the first connection waits for it and resumes', async () => {
    const test = await startHub({ recovery: true });
    const store = memoryStore();
    const first = clients.create(test.url, { recover: { store } });
    await inState(first, 'open');
    await first.close();
    await test.hub.sendMessage('bob', 'announcement', { text: 'later' });
    const slow = { get: async (key: string) => store.get(key), set: store.set };
    const second = clients.create(test.url, { recover: { store: slow } });
    const got: string[] = [];
    second.on('announcement', ({ text }) => got.push(text));
    expect(await nextEvent(second, 'recovered')).toEqual({ recovered: true, missed: 1 });
    expect(got).toEqual(['later']);
  });

  it.each([
    ['throws', () => {
      throw new Error('disk gone');
    }, 'wshub client: could not read the recovery position in its store: disk gone'],
    ['rejects', () => Promise.reject(new Error('disk gone')), 'wshub client: could not read the recovery position in its store: disk gone'],
    ['never answers', () => new Promise<string>(() => {}), 'wshub client: the recovery position\'s store did not answer within 300 ms (connectTimeoutMs); connecting without it'],
  ])('a store whose get %s: the client says so and connects without it', async (_what, get, message) => {
    const test = await startHub({ recovery: true });
    const client = clients.create(test.url, { recover: { store: { get, set: () => {} } }, connectTimeoutMs: 300 });
    const errors: string[] = [];
    // Attached after the constructor, as an app does: a store that throws at once is reported all the same.
    client.on('error', (error) => errors.push(error.message));
    await inState(client, 'open');
    expect(errors).toEqual([message]);
    await test.hub.sendMessage('bob', 'announcement', { text: 'hi' });
    expect(await nextEvent(client, 'announcement')).toEqual({ text: 'hi' });
  });

  it('a store whose set throws: the client says so once a position fails to be kept, and goes on', async () => {
    const test = await startHub({ recovery: true });
    const set = () => {
      throw new Error('quota exceeded');
    };
    const client = clients.create(test.url, { recover: { store: { get: () => undefined, set } } });
    const errors: string[] = [];
    client.on('error', (error) => errors.push(error.message));
    const got: string[] = [];
    client.on('announcement', ({ text }) => got.push(text));
    await inState(client, 'open');
    await test.hub.sendMessage('bob', 'announcement', { text: 'one' });
    await test.hub.sendMessage('bob', 'announcement', { text: 'two' });
    await until(() => got.length === 2);
    expect(got).toEqual(['one', 'two']);
    expect(errors.length).toBeGreaterThan(0);
    expect(new Set(errors)).toEqual(new Set(['wshub client: could not write the recovery position in its store: quota exceeded']));
  });

  it.each([
    [{ ack: 'sometimes' }, "wshub client: option \"ack\" must be 'auto' or 'manual', got \"sometimes\""],
    [{ recover: { store: 'local' } }, "wshub client: option \"recover.store\" is 'local', and there is no localStorage here; pass an object with get and set"],
    [{ confirmBatch: 25 }, 'wshub client: option "confirmBatch" must be an object, got 25'],
    [{ confirmBatch: { withinMs: -1 } }, 'wshub client: option "confirmBatch.withinMs" must be a number between 0 and 1000, got -1'],
    [{ confirmBatch: { maxIds: 257 } }, 'wshub client: option "confirmBatch.maxIds" must be a number between 1 and 256, got 257'],
    [{ confirmBatch: { maxIds: 1.5 } }, 'wshub client: option "confirmBatch.maxIds" must be a whole number, got 1.5'],
    [{ recover: { store: {} } }, 'wshub client: option "recover.store" must be \'local\' or an object with get(key) and set(key, value), got an object'],
    [{ recover: { store: memoryStore(), key: '' } }, 'wshub client: option "recover.key" must be a non-empty string, got ""'],
  ])('refuses %j', (options, message) => {
    expect(() => clients.create('ws://127.0.0.1:1/x', options as never)).toThrow(message);
  });
});
