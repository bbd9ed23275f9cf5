import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { HubClient } from '../../src/index.js';
import { TestHub } from '../support/hub.js';
import { inState } from '../support/wait.js';

/**
 * Node has no `SharedWorker` (and Node 20 no Web Locks; they are hidden on
 * later versions): what `share` does where a browser lacks them too.
 */
describe('share where there is neither SharedWorker nor Web Locks', () => {
  let hub: TestHub;
  const clients: HubClient[] = [];

  beforeEach(async () => {
    vi.stubGlobal('navigator', {});
    hub = await TestHub.start();
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await hub.stop();
    vi.restoreAllMocks();
    vi.unstubAllGlobals();
  });

  it('share: true gives each client its own socket and says so once in the console', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    for (let i = 0; i < 2; i++) {
      clients.push(new HubClient(hub.url, { share: true, token: () => 'alice-token', WebSocket: WebSocket as never }));
    }
    await Promise.all(clients.map((c) => inState(c, 'open')));
    expect(hub.hub.socketsOf('alice')).toHaveLength(2);
    expect(warn.mock.calls).toEqual([
      [
        'wshub client: there is neither SharedWorker nor Web Locks with BroadcastChannel here, so each tab has its own WebSocket (share: true)',
      ],
    ]);

    const got: unknown[] = [];
    clients[0]!.on('order', (data) => got.push(data));
    expect(await clients[0]!.watch('order', 42).whenConfirmed()).toBe(true);
    await hub.hub.sendMessage('alice', 'order', { id: 42 }, 42);
    await vi.waitFor(() => expect(got).toEqual([{ id: 42 }]));
  });

  it("share: 'worker' and 'leader' refuse at once with a TypeError that says what to use", () => {
    vi.stubGlobal('WebSocket', WebSocket);
    expect(() => new HubClient(hub.url, { share: 'worker' })).toThrow(
      new TypeError(`wshub client: option "share" is 'worker', but there is no SharedWorker here; use share: true to fall back`),
    );
    expect(() => new HubClient(hub.url, { share: 'leader' })).toThrow(
      new TypeError(
        `wshub client: option "share" is 'leader', but Web Locks (navigator.locks), BroadcastChannel or MessageChannel is missing here; use share: true to fall back`,
      ),
    );
  });
});
