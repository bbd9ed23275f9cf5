import { afterEach, describe, expect, it } from 'vitest';
import { HANDLED_IDS, HandledIds } from '../../src/handled-ids.js';
import { HubClient, type HubClientOptions, type ReceivedMessage } from '../../src/index.js';
import { recoveryPosition } from '../../src/share/position.js';
import { type FakeSocket, type FakeTransport, fakeTransport } from '../support/fake-websocket.js';

/**
 * A second copy of a message the client handled (a hub node restarted and
 * sent its last batch again, or another node sent a dead node's batch):
 * the handlers run once per id.
 */
let transport: FakeTransport;
let client: HubClient;
let seen: Array<[unknown, string | undefined]>;
let received: ReceivedMessage[];

function make(options: Partial<HubClientOptions> = {}): void {
  transport = fakeTransport();
  client = new HubClient('ws://hub.test/ws', {
    WebSocket: transport.WebSocket,
    reconnect: { initialDelayMs: 0 },
    confirmBatch: { withinMs: 0 },
    ...options,
  });
  seen = [];
  received = [];
  client.on('note' as never, ((data: unknown, message: ReceivedMessage) => {
    seen.push([data, message.id]);
    received.push(message);
  }) as never);
}

afterEach(async () => {
  await client.close();
});

/** The next socket, opened and welcomed (`receipts: false` as a hub with receipts off says). */
async function connected(welcome: Record<string, unknown> = {}): Promise<FakeSocket> {
  const socket = await transport.next();
  socket.open();
  socket.receive({ event: 'wshub:welcome', data: { protocol: 2, ...welcome } });
  return socket;
}

const confirmed = (socket: FakeSocket) =>
  socket.sent.filter((f) => (f as { event: string }).event === 'wshub:confirm').flatMap((f) => (f as { data: { ids: string[] } }).data.ids);

const turn = () => new Promise((r) => setTimeout(r, 5));

describe('a message id handled already', () => {
  it('does not run the handlers again, on the same socket or after a reconnect; messages without an id always do', async () => {
    make();
    const first = await connected({ receipts: false });
    first.receive({ event: 'note', data: 1, id: 'row-1' });
    first.receive({ event: 'note', data: 1, id: 'row-1' });
    first.receive({ event: 'note', data: 'plain' });
    first.receive({ event: 'note', data: 'plain' });
    first.drop();
    const second = await connected({ receipts: false });
    second.receive({ event: 'note', data: 1, id: 'row-1' });
    second.receive({ event: 'note', data: 2, id: 'row-2' });
    await turn();
    expect(seen).toEqual([
      [1, 'row-1'],
      ['plain', undefined],
      ['plain', undefined],
      [2, 'row-2'],
    ]);
    // Receipts off: nothing is confirmed.
    expect([...confirmed(first), ...confirmed(second)]).toEqual([]);
  });

  it('with receipts on, a copy is confirmed on its own socket (so the hub settles it) without running the handlers', async () => {
    make();
    const first = await connected();
    first.receive({ event: 'note', data: 1, id: 'm1' });
    await turn();
    first.drop();
    const second = await connected();
    second.receive({ event: 'note', data: 1, id: 'm1' });
    await turn();
    expect(seen).toEqual([[1, 'm1']]);
    expect(confirmed(first)).toEqual(['m1']);
    expect(confirmed(second)).toEqual(['m1']);
  });

  it("ack: 'manual': a copy of an unacked message waits for the app's ack, which then confirms it on the copy's socket", async () => {
    make({ ack: 'manual' });
    const first = await connected();
    first.receive({ event: 'note', data: 1, id: 'm1' });
    first.drop();
    const second = await connected();
    second.receive({ event: 'note', data: 1, id: 'm1' });
    await turn();
    expect(seen).toEqual([[1, 'm1']]);
    expect(confirmed(second)).toEqual([]);
    received[0]!.ack();
    received[0]!.ack();
    await turn();
    expect(confirmed(second)).toEqual(['m1']);
    // Acked already: a later copy is confirmed at once.
    second.receive({ event: 'note', data: 1, id: 'm1' });
    await turn();
    expect(confirmed(second)).toEqual(['m1', 'm1']);
    expect(seen).toHaveLength(1);
  });

  it('a copy with a newer offset moves the position on without running the handlers; order holds', async () => {
    make({ recover: true });
    const socket = await connected({ receipts: false, recovery: { epoch: 'e1', offset: 0 } });
    socket.receive({ event: 'note', data: 'a', offset: 1, id: 'a' });
    socket.receive({ event: 'note', data: 'b', offset: 2, id: 'b' });
    socket.receive({ event: 'note', data: 'a', offset: 3, id: 'a' });
    socket.receive({ event: 'note', data: 'old', offset: 2, id: 'z' });
    socket.receive({ event: 'note', data: 'c', offset: 4, id: 'c' });
    expect(seen.map(([data]) => data)).toEqual(['a', 'b', 'c']);
    expect(client[recoveryPosition]).toEqual({ epoch: 'e1', offset: 4 });
  });

  it(`keeps the last ${HANDLED_IDS} ids: a copy that comes after that many newer ones runs the handlers again`, async () => {
    make();
    const socket = await connected({ receipts: false });
    socket.receive({ event: 'note', data: 'first', id: 'id-0' });
    for (let i = 1; i < HANDLED_IDS; i++) socket.receive({ event: 'note', data: i, id: `id-${i}` });
    socket.receive({ event: 'note', data: 'first', id: 'id-0' });
    expect(seen).toHaveLength(HANDLED_IDS);
    socket.receive({ event: 'note', data: 'newest', id: `id-${HANDLED_IDS}` });
    socket.receive({ event: 'note', data: 'first again', id: 'id-0' });
    expect(seen.slice(-2)).toEqual([
      ['newest', `id-${HANDLED_IDS}`],
      ['first again', 'id-0'],
    ]);
  });
});

describe('HandledIds', () => {
  it('holds at most its bound, oldest dropped first', () => {
    const ids = new HandledIds(3);
    for (let i = 0; i < 10_000; i++) ids.add(`id-${i}`, { socket: null, acked: true, copy: null });
    expect(ids.size).toBe(3);
    expect(ids.get('id-9996')).toBeUndefined();
    expect(ids.get('id-9997')).toBeDefined();
    const full = new HandledIds();
    for (let i = 0; i < 10_000; i++) full.add(`id-${i}`, { socket: null, acked: true, copy: null });
    expect(full.size).toBe(HANDLED_IDS);
  });
});
