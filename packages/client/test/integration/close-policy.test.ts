import { afterEach, describe, expect, it } from 'vitest';
import { ClientBugError } from '../../src/index.js';
import { Clients } from '../support/clients.js';
import { TestHub } from '../support/hub.js';
import { hubEvent, inState, nextEvent, nextState, synced } from '../support/wait.js';

const clients = new Clients();
const hubs: TestHub[] = [];

async function startHub(options: Parameters<typeof TestHub.start>[0] = {}): Promise<TestHub> {
  const hub = await TestHub.start(options);
  hubs.push(hub);
  return hub;
}

afterEach(async () => {
  await clients.closeAll();
  await Promise.all(hubs.splice(0).map((h) => h.stop()));
});

// A client that wrongly reconnected would do so at once (no delay); a full
// round trip of another client takes longer, so counting connections after
// it shows whether the stopped client came back.
const immediate = { initialDelayMs: 0, maxDelayMs: 0, jitter: 0 };

function countConnections(test: TestHub): { readonly count: number } {
  const counter = { count: 0 };
  test.hub.on('connected', () => counter.count++);
  return counter;
}

async function roundTripOfAnotherClient(test: TestHub): Promise<void> {
  const other = clients.create(test.url, { token: () => 'carol-token' });
  await inState(other, 'open');
  await synced(other, test.hub);
  await other.close();
}

describe('4403 unauthorized', () => {
  it('stops, emits unauthorized and never reconnects', async () => {
    const test = await startHub();
    const connections = countConnections(test);
    const client = clients.create(test.url, { token: () => 'nobody', reconnect: immediate });
    const unauthorized = await nextEvent(client, 'unauthorized');
    expect(unauthorized).toEqual({ code: 4403, reason: 'unauthorized', retryInMs: null });
    expect(client.state).toBe('closed');
    await roundTripOfAnotherClient(test);
    expect(connections.count).toBe(2);
  });

  it('stops when a token that worked is refused on a later reconnect', async () => {
    const test = await startHub();
    let token = 'bob-token';
    const client = clients.create(test.url, { token: () => token, reconnect: immediate });
    await inState(client, 'open');
    token = 'expired';
    const unauthorized = nextEvent(client, 'unauthorized');
    test.hub.socketsOf('bob')[0]?.terminate();
    expect((await unauthorized).code).toBe(4403);
    expect(client.state).toBe('closed');
  });
});

describe('4000 disconnected by the server', () => {
  it('stops, emits disconnected and never reconnects', async () => {
    const test = await startHub();
    const connections = countConnections(test);
    const client = clients.create(test.url, { reconnect: immediate });
    await inState(client, 'open');
    const disconnected = nextEvent(client, 'ended');
    const closed = nextState(client, 'closed');
    await test.hub.disconnect('bob');
    expect(await disconnected).toEqual({
      code: 4000,
      reason: 'disconnected by server: do not reconnect',
      retryInMs: null,
    });
    await closed;
    await roundTripOfAnotherClient(test);
    expect(connections.count).toBe(2);
  });
});

describe('codes that mean a client bug', () => {
  it('1009: stops after a message over maxPayload and reports a ClientBugError', async () => {
    const test = await startHub({ limits: { maxPayload: 1024 } });
    const connections = countConnections(test);
    const client = clients.create(test.url, { reconnect: immediate });
    await inState(client, 'open');
    const error = nextEvent(client, 'error');
    client.send('big', 'x'.repeat(2048));
    const reported = await error;
    expect(reported).toBeInstanceOf(ClientBugError);
    expect(reported).toMatchObject({ code: 1009 });
    // ws closes oversized frames itself, without a reason; the message names the code's meaning anyway.
    expect(reported.message).toContain('closed the connection with 1009 (message too big)');
    expect(client.state).toBe('closed');
    await roundTripOfAnotherClient(test);
    expect(connections.count).toBe(2);
  });
});

describe('codes that mean try again later', () => {
  it('4408: reconnects with backoff after an authentication timeout, then connects', async () => {
    let slow = true;
    const test = await startHub({
      authTimeoutMs: 50,
      authenticate: (request) =>
        slow ? new Promise(() => {}) : { id: 'bob', deviceFingerprint: String(request.headers['user-agent']) },
    });
    const client = clients.create(test.url);
    const close = await nextEvent(client, 'close');
    expect(close.code).toBe(4408);
    expect(close.retryInMs).not.toBeNull();
    expect(client.state).toBe('reconnecting');
    slow = false;
    await inState(client, 'open');
  });

  it('1001: reconnects when the hub shuts down, and stays reconnecting while it is away', async () => {
    const test = await startHub();
    const client = clients.create(test.url);
    await inState(client, 'open');
    const close = nextEvent(client, 'close');
    const dropped = hubEvent(test.hub, 'disconnected');
    await test.stop();
    hubs.splice(hubs.indexOf(test), 1);
    await dropped;
    expect(await close).toMatchObject({ code: 1001, reason: 'server shutting down' });
    // Connection refused while the server is down: 1006, still trying.
    const refused = await nextEvent(client, 'close');
    expect(refused.code).toBe(1006);
    expect(client.state).toBe('reconnecting');
  });
});
