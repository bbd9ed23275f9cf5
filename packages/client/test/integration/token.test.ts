import { afterEach, describe, expect, it } from 'vitest';
import { Clients } from '../support/clients.js';
import { TestHub } from '../support/hub.js';
import { hubEvent, inState, synced } from '../support/wait.js';

const clients = new Clients();
let test: TestHub;

afterEach(async () => {
  await clients.closeAll();
  await test.stop();
});

function offered(header: string | string[] | undefined): string[] {
  return String(header ?? '')
    .split(',')
    .map((p) => p.trim());
}

describe('the token', () => {
  it('goes in ?token= by default', async () => {
    test = await TestHub.start();
    const connected = hubEvent(test.hub, 'connected');
    const client = clients.create(test.url);
    const { request } = await connected;
    expect(request.url).toBe('/api/v1/ws?token=bob-token');
    expect(offered(request.headers['sec-websocket-protocol'])).toEqual(['wshub']);
    await inState(client, 'open');
  });

  it("with tokenIn: 'protocol', goes in Sec-WebSocket-Protocol after wshub and stays out of the URL", async () => {
    test = await TestHub.start();
    const connected = hubEvent(test.hub, 'connected');
    const ready = hubEvent(test.hub, 'ready');
    const client = clients.create(test.url, { tokenIn: 'protocol' });
    const { request } = await connected;
    expect(request.url).toBe('/api/v1/ws');
    expect(offered(request.headers['sec-websocket-protocol'])).toEqual(['wshub', 'bob-token']);
    expect((await ready).user.id).toBe('bob');
    await inState(client, 'open');
    await synced(client, test.hub);
  });
});
