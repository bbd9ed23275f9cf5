import { afterEach, describe, expect, it } from 'vitest';
import { Clients } from '../support/clients.js';
import { TestHub } from '../support/hub.js';
import { hubEvent, inState, nextState, synced } from '../support/wait.js';

const clients = new Clients();
const hubs: TestHub[] = [];

async function startHub(): Promise<{ test: TestHub; notes: unknown[] }> {
  const test = await TestHub.start();
  hubs.push(test);
  const notes: unknown[] = [];
  test.hub.on('message', ({ event, data }) => {
    if (event === 'note') notes.push(data);
  });
  return { test, notes };
}

afterEach(async () => {
  await clients.closeAll();
  await Promise.all(hubs.splice(0).map((h) => h.stop()));
});

describe('messages sent while not open', () => {
  it('are queued up to maxQueuedMessages and delivered in order once connected; the rest are refused', async () => {
    const { test, notes } = await startHub();
    const client = clients.create(test.url, { maxQueuedMessages: 3 });
    const accepted = ['a', 'b', 'c', 'd', 'e'].map((note) => client.send('note', note));
    expect(accepted).toEqual([true, true, true, false, false]);
    await inState(client, 'open');
    await synced(client, test.hub);
    expect(notes).toEqual(['a', 'b', 'c']);
  });

  it('wait out a reconnect and arrive on the new connection', async () => {
    const { test, notes } = await startHub();
    const client = clients.create(test.url);
    await inState(client, 'open');
    const reconnecting = nextState(client, 'reconnecting');
    const reopened = nextState(client, 'open');
    const dropped = hubEvent(test.hub, 'disconnected');
    test.hub.socketsOf('bob')[0]?.terminate();
    await dropped;
    await reconnecting;
    expect(client.send('note', 'while away')).toBe(true);
    await reopened;
    await synced(client, test.hub);
    expect(notes).toEqual(['while away']);
  });

  it('are dropped by close(), and send() refuses afterwards', async () => {
    const { test, notes } = await startHub();
    const client = clients.create(test.url);
    expect(client.send('note', 'never')).toBe(true);
    await client.close();
    expect(client.send('note', 'after')).toBe(false);
    // Another client's round trip: had the first connected and flushed, its note would be in by now.
    const other = clients.create(test.url);
    await inState(other, 'open');
    await synced(other, test.hub);
    expect(notes).toEqual([]);
  });
});
