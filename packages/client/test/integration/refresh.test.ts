import type { IncomingMessage } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { Clients } from '../support/clients.js';
import { TestHub, tokenOf } from '../support/hub.js';
import { hubEvent, inState, nextEvent } from '../support/wait.js';

const clients = new Clients();
const hubs: TestHub[] = [];

afterEach(async () => {
  await clients.closeAll();
  await Promise.all(hubs.splice(0).map((h) => h.stop()));
});

/** Tokens `bob-<ttl>-<n>`: bob, for `ttl` ms from when the server reads it. */
function user(token: string | undefined) {
  const match = token?.match(/^(\w+)-(\d+)-\d+$/);
  if (!match) throw new Error('bad token');
  return { id: match[1]!, deviceFingerprint: 'd', expiresAt: Date.now() + Number(match[2]) };
}

describe('sessions that expire, with @wshub/client', () => {
  it('refreshes on its own before expiry: the socket stays open past several expiries and keeps receiving', async () => {
    let issued = 0;
    const test = await TestHub.start({
      authenticate: (request: IncomingMessage) => user(tokenOf(request)),
      refresh: ({ token }) => user(token),
    });
    hubs.push(test);
    // 1 s tokens: the server asks half a second ahead, which leaves room on a loaded machine.
    const client = clients.create(test.url, { token: () => `bob-1000-${++issued}` });
    const closes: number[] = [];
    client.on('close', ({ code }) => closes.push(code));
    client.watch('announcement');
    await inState(client, 'open');
    await new Promise((resolve) => setTimeout(resolve, 2600)); // more than two token lifetimes
    expect(closes).toEqual([]);
    expect(issued).toBeGreaterThanOrEqual(3);
    const got = nextEvent(client, 'announcement');
    await test.hub.push('announcement', { text: 'still here' });
    expect(await got).toEqual({ text: 'still here' });
  });

  it('a session that is not refreshed closes with 4401, and the client reconnects with a fresh token', async () => {
    let issued = 0;
    const test = await TestHub.start({ authenticate: (request: IncomingMessage) => user(tokenOf(request)) });
    hubs.push(test);
    const client = clients.create(test.url, { token: () => `bob-200-${++issued}` });
    await inState(client, 'open');
    const closed = nextEvent(client, 'close');
    const back = hubEvent(test.hub, 'ready', (e) => e.user.id === 'bob');
    expect((await closed).code).toBe(4401);
    await back;
    expect(issued).toBe(2);
  });

  it('a refused refresh closes with 4403 and the client stops (unauthorized)', async () => {
    let issued = 0;
    const test = await TestHub.start({
      authenticate: (request: IncomingMessage) => user(tokenOf(request)),
      refresh: () => {
        throw new Error('revoked');
      },
    });
    hubs.push(test);
    const client = clients.create(test.url, { token: () => `bob-300-${++issued}` });
    const unauthorized = nextEvent(client, 'unauthorized');
    expect((await unauthorized).code).toBe(4403);
    expect(client.state).toBe('closed');
  });
});
