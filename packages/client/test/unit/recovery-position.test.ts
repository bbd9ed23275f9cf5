import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HubClient, type Recovered } from '../../src/index.js';
import { type FakeSocket, type FakeTransport, fakeTransport } from '../support/fake-websocket.js';

/**
 * What the client does with a position it cannot use. A hub that has not
 * read its history's epoch yet (a new node on Redis, or Redis down) answered
 * with `epoch: ""`; a client that kept it had its next resume refused and
 * lost what it missed with only an 'error'.
 */
let transport: FakeTransport;
let client: HubClient;
let log: string[];

beforeEach(() => {
  transport = fakeTransport();
  client = new HubClient('ws://hub.test/ws', { WebSocket: transport.WebSocket, reconnect: { initialDelayMs: 0 } });
  log = [];
  client.on('recovered', ({ recovered, missed }: Recovered) => log.push(`recovered ${recovered} ${missed}`));
  client.on('error', (error) => log.push(`error ${error.message}`));
  client.on('note' as never, ((data: unknown) => log.push(`note ${JSON.stringify(data)}`)) as never);
});

afterEach(async () => {
  await client.close();
});

/** The next socket, opened and welcomed with `recovery`. */
async function connected(recovery: unknown): Promise<FakeSocket> {
  const socket = await transport.next();
  socket.open();
  socket.receive({ event: 'wshub:welcome', data: { protocol: 2, recovery } });
  return socket;
}

const resumes = (socket: FakeSocket) => socket.sent.filter((f) => (f as { event: string }).event === 'wshub:resume');

/** Answers the resume `socket` sent. */
function answer(socket: FakeSocket, fields: Record<string, unknown>): void {
  const i = socket.sent.findIndex((f) => (f as { event: string }).event === 'wshub:resume');
  socket.receive({ event: 'wshub:ack', data: { id: socket.ids[i], op: 'resume', ...fields } });
}

describe('a position with an empty or invalid epoch is no position', () => {
  it('a resume answered with an empty epoch: recovered as answered; the next reconnect sends no resume and says recovered: false', async () => {
    const first = await connected({ epoch: 'e1', offset: 5 });
    first.drop();
    const second = await transport.next();
    second.open();
    expect(resumes(second)).toEqual([{ event: 'wshub:resume', data: { epoch: 'e1', offset: 5 } }]);
    second.receive({ event: 'wshub:welcome', data: { protocol: 2, recovery: { epoch: '', offset: 7 } } });
    answer(second, { status: 'recovered', missed: 0, epoch: '', offset: 7 });
    second.receive({ event: 'note', data: 1, offset: 8 });
    second.drop();
    const third = await transport.next();
    third.open();
    expect(resumes(third)).toEqual([]);
    third.receive({ event: 'wshub:welcome', data: { protocol: 2, recovery: { epoch: 'e1', offset: 9 } } });
    third.receive({ event: 'note', data: 2, offset: 10 });
    expect(log).toEqual(['recovered true 0', 'note 1', 'recovered false 0', 'note 2']);
    // And from then on it resumes from the position it was given.
    third.drop();
    const fourth = await transport.next();
    fourth.open();
    expect(resumes(fourth)).toEqual([{ event: 'wshub:resume', data: { epoch: 'e1', offset: 10 } }]);
  });

  it.each([
    ['an empty epoch', { epoch: '', offset: 0 }],
    ['no offset', { epoch: 'e1' }],
    ['a negative offset', { epoch: 'e1', offset: -1 }],
    ['a number', 7],
  ])('a welcome with %s: the next reconnect sends no resume and its welcome says recovered: false', async (_, recovery) => {
    const first = await connected(recovery);
    first.drop();
    const second = await transport.next();
    second.open();
    expect(resumes(second)).toEqual([]);
    second.receive({ event: 'wshub:welcome', data: { protocol: 2, recovery: { epoch: 'e1', offset: 3 } } });
    expect(log).toEqual(['recovered false 0']);
  });

  it('a failed resume with an empty epoch: recovered: false now and at the next welcome', async () => {
    const first = await connected({ epoch: 'e1', offset: 5 });
    first.drop();
    const second = await transport.next();
    second.open();
    answer(second, { status: 'failed', missed: 0, epoch: '', offset: 0 });
    second.drop();
    const third = await transport.next();
    third.open();
    expect(resumes(third)).toEqual([]);
    third.receive({ event: 'wshub:welcome', data: { protocol: 2, recovery: { epoch: 'e2', offset: 1 } } });
    expect(log).toEqual(['recovered false 0', 'recovered false 0']);
  });

  it.each([
    ['invalid', ['error wshub client: the server refused the resume: bad position', 'recovered false 0']],
    ['unavailable', ['recovered false 0']],
  ])('a resume answered %s says recovered: false, so what was missed is never lost silently', async (status, expected) => {
    const first = await connected({ epoch: 'e1', offset: 5 });
    first.drop();
    const second = await transport.next();
    second.open();
    answer(second, { status, message: 'bad position' });
    expect(log).toEqual(expected);
  });

  it('a server without recovery says nothing, before or after a reconnect', async () => {
    const first = await transport.next();
    first.open();
    first.receive({ event: 'wshub:welcome', data: { protocol: 2 } });
    first.drop();
    const second = await transport.next();
    second.open();
    second.receive({ event: 'wshub:welcome', data: { protocol: 2 } });
    expect(resumes(second)).toEqual([]);
    expect(log).toEqual([]);
  });
});
