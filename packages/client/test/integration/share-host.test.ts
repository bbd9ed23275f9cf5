/**
 * The shared connection's rules, fast and without a browser: the host a
 * SharedWorker (or leader tab) runs, tabs' clients on real MessagePorts, a
 * real WsHub. The Chromium suite (test/browser) runs the same through a real
 * SharedWorker.
 */
import type { MessageDelivered, MessageUndelivered } from '@wshub/core';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import type { ReceivedMessage } from '../../src/index.js';
import { resolveOptions } from '../../src/options.js';
import type { SharedOptions, TabMessage, WorkerMessage } from '../../src/share/port-messages.js';
import { ShareHost } from '../../src/share/share-host.js';
import { SharedHubClient } from '../../src/share/shared-client.js';
import { TestHub, tokenOf } from '../support/hub.js';
import { inState, nextEvent } from '../support/wait.js';

describe('the shared connection', () => {
  let hub: TestHub;
  let host: ShareHost;
  const tabs: SharedHubClient[] = [];

  beforeEach(() => {
    // The host's client uses the global WebSocket, as in a browser.
    vi.stubGlobal('WebSocket', WebSocket);
    host = new ShareHost(undefined);
  });

  afterEach(async () => {
    await Promise.all(tabs.splice(0).map((tab) => tab.close()));
    await vi.waitFor(() => expect(hub.hub.socketsOf('alice')).toHaveLength(0));
    await hub.stop();
    vi.unstubAllGlobals();
  });

  function openTab(token: () => string = () => 'alice-token', ack: 'auto' | 'manual' = 'auto'): SharedHubClient {
    const { port1, port2 } = new MessageChannel();
    host.connect(port2 as never);
    const tab = new SharedHubClient(resolveOptions(hub.url, { share: 'worker', token, ack }), port1 as never, undefined);
    tabs.push(tab);
    return tab;
  }

  it('asks one tab for the token, and one socket serves both', async () => {
    hub = await TestHub.start();
    const first = vi.fn(() => 'alice-token');
    const second = vi.fn(() => 'alice-token');
    const a = openTab(first);
    const b = openTab(second);
    await Promise.all([inState(a as never, 'open'), inState(b as never, 'open')]);
    expect(hub.hub.socketsOf('alice')).toHaveLength(1);
    expect(first).toHaveBeenCalledTimes(1);
    expect(second).not.toHaveBeenCalled();
  });

  it('a session that expires is refreshed once, through one tab, on the one socket', async () => {
    // Tokens `alice-<ttl>-<n>`: alice, for `ttl` ms from when the server reads them.
    const user = (token: string | undefined) => {
      const match = token?.match(/^(\w+)-(\d+)-\d+$/);
      if (!match) throw new Error('bad token');
      return { id: match[1]!, deviceFingerprint: 'd', expiresAt: Date.now() + Number(match[2]) };
    };
    hub = await TestHub.start({ authenticate: (request) => user(tokenOf(request)), refresh: ({ token }) => user(token) });
    let issued = 0;
    const first = vi.fn(() => `alice-1000-${++issued}`);
    const second = vi.fn(() => `alice-1000-${++issued}`);
    const a = openTab(first);
    const b = openTab(second);
    const closes: number[] = [];
    for (const tab of [a, b]) tab.on('close', ({ code }: { code: number }) => closes.push(code));
    await inState(a as never, 'open');
    const socket = hub.hub.socketsOf('alice')[0];
    // The server asks half a second ahead of the 1 s expiry: one refresh.
    await vi.waitFor(() => expect(first).toHaveBeenCalledTimes(2), { timeout: 3000 });
    expect(second).not.toHaveBeenCalled();
    expect(hub.hub.socketsOf('alice')).toHaveLength(1);
    expect(hub.hub.socketsOf('alice')[0]).toBe(socket);
    expect(closes).toEqual([]);
  });

  it('a refused watch is forbidden in the tab that asked, not in the other', async () => {
    hub = await TestHub.start({ canWatch: ({ event }) => event !== 'secret' });
    const a = openTab();
    const b = openTab();
    const refused = a.watch('secret', 1);
    const forbidden = nextEvent(a as never, 'forbidden');
    const bForbidden = vi.fn();
    b.on('forbidden', bForbidden);
    const allowed = b.watch('open-feed');
    expect(await refused.whenConfirmed()).toBe(false);
    expect(refused.status).toBe('forbidden');
    expect(await forbidden).toEqual({ event: 'secret', payload: '1' });
    expect(await allowed.whenConfirmed()).toBe(true);
    expect(bForbidden).not.toHaveBeenCalled();
  });

  it('a copy of a message the shared connection handled (same id) reaches no tab again', async () => {
    hub = await TestHub.start();
    const tabs = [openTab(), openTab()];
    const got = tabs.map(() => [] as unknown[]);
    for (const [i, tab] of tabs.entries()) {
      tab.on('n', (data) => got[i]!.push(data));
      tab.on('end', () => got[i]!.push('end'));
    }
    await Promise.all(tabs.map((tab) => inState(tab as never, 'open')));
    await hub.hub.sendMessage('alice', 'n', 1, null, { id: 'row-1' });
    // The copy a restarted node would send: the same frame again, written to the socket itself.
    const [socket] = hub.hub.socketsOf('alice') as unknown as Array<{ send(text: string): void }>;
    socket!.send(JSON.stringify({ event: 'n', data: 1, id: 'row-1' }));
    await hub.hub.sendMessage('alice', 'n', 2, null, { id: 'row-2' });
    await hub.hub.sendMessage('alice', 'end', null);
    await vi.waitFor(() => expect(got.every((g) => g.includes('end'))).toBe(true));
    expect(got).toEqual([
      [1, 2, 'end'],
      [1, 2, 'end'],
    ]);
  });

  it('routes by the scope a message was sent for: its watchers and the wildcard; every watcher for true; every tab with a handler for the whole user', async () => {
    hub = await TestHub.start({ recovery: true });
    const tabs = { a: openTab(), b: openTab(), every: openTab(), none: openTab() };
    const got: Record<string, unknown[]> = { a: [], b: [], every: [], none: [] };
    for (const [name, tab] of Object.entries(tabs)) {
      tab.on('order', (data) => got[name]!.push(data));
      tab.on('end', () => got[name]!.push('end'));
    }
    const watched = [tabs.a.watch('order', 'a'), tabs.b.watch('order', 'b'), tabs.every.watch('order')];
    expect(await Promise.all(watched.map((w) => w.whenConfirmed()))).toEqual([true, true, true]);
    await hub.hub.sendMessage('alice', 'order', 1, 'a');
    await hub.hub.sendMessage('alice', 'order', 2, 'b');
    await hub.hub.sendMessage('alice', 'order', 3);
    await hub.hub.push('order', 4, undefined, true);
    await hub.hub.push('order', 5, undefined, 'c');
    await hub.hub.sendMessage('alice', 'end', null);
    await vi.waitFor(() => expect(Object.values(got).every((messages) => messages.at(-1) === 'end')).toBe(true));
    expect(got).toEqual({ a: [1, 3, 4, 'end'], b: [2, 3, 4, 'end'], every: [1, 2, 3, 4, 5, 'end'], none: [3, 'end'] });
  });

  describe("receipts with ack: 'manual'", () => {
    /** The hub's receipts, and the ids of every wshub:confirm frame the user's socket sent. */
    const watchReceipts = () => {
      const seen = { delivered: [] as MessageDelivered[], undelivered: [] as MessageUndelivered[], confirmed: [] as string[] };
      hub.hub.on('delivered', (e) => seen.delivered.push(e));
      hub.hub.on('undelivered', (e) => seen.undelivered.push(e));
      hub.hub.on('ready', ({ socket }) => {
        (socket as unknown as { on(e: 'message', f: (d: Buffer) => void): void }).on('message', (d) => {
          const frame = JSON.parse(String(d));
          if (frame.event === 'wshub:confirm') seen.confirmed.push(...frame.data.ids);
        });
      });
      return seen;
    };

    it('several tabs get the same message: the first tab to ack() confirms it, once; one no tab acks goes undelivered', async () => {
      hub = await TestHub.start({ receipts: { undeliveredAfterMs: 500 } });
      const seen = watchReceipts();
      const tabs = [openTab(undefined, 'manual'), openTab(undefined, 'manual'), openTab(undefined, 'manual')];
      const got = tabs.map(() => [] as ReceivedMessage[]);
      for (const [i, tab] of tabs.entries()) tab.on('notice', (_data, message) => got[i]!.push(message));
      await Promise.all(tabs.map((tab) => inState(tab as never, 'open')));
      const shown = await hub.hub.sendMessage('alice', 'notice', { text: 'shown' });
      const ignored = await hub.hub.sendMessage('alice', 'notice', { text: 'not shown' });
      await vi.waitFor(() => expect(got.map((messages) => messages.length)).toEqual([2, 2, 2]));
      expect(got.map((messages) => messages.map((m) => m.id))).toEqual([
        [shown, ignored],
        [shown, ignored],
        [shown, ignored],
      ]);
      // Nothing is confirmed until a tab acks.
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(seen.confirmed).toEqual([]);
      got[1]![0]!.ack();
      await vi.waitFor(() => expect(seen.delivered.map((e) => e.id)).toEqual([shown]));
      got[0]![0]!.ack();
      got[2]![0]!.ack();
      got[1]![0]!.ack();
      await vi.waitFor(() => expect(seen.undelivered.map((e) => e.id)).toEqual([ignored]));
      expect(seen.confirmed).toEqual([shown]);
      expect(seen.delivered).toHaveLength(1);
    });

    it("the connection's ack is the first tab's: a tab with ack: 'auto' on it acks once its handlers returned", async () => {
      hub = await TestHub.start({ receipts: { undeliveredAfterMs: 2000 } });
      const seen = watchReceipts();
      const manual = openTab(undefined, 'manual');
      await inState(manual as never, 'open');
      const auto = openTab(undefined, 'auto');
      const order: string[] = [];
      const privates: ReceivedMessage[] = [];
      manual.on('notice', () => order.push('manual tab'));
      manual.on('private', (_data, message) => privates.push(message));
      auto.on('notice', () => order.push('auto tab'));
      await inState(auto as never, 'open');
      const id = await hub.hub.sendMessage('alice', 'notice', {});
      await vi.waitFor(() => expect(seen.delivered.map((e) => e.id)).toEqual([id]));
      expect(order.sort()).toEqual(['auto tab', 'manual tab']);
      // Only the manual tab gets this one: confirmed when it acks, not before.
      const only = await hub.hub.sendMessage('alice', 'private', {});
      await vi.waitFor(() => expect(privates).toHaveLength(1));
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(seen.confirmed).toEqual([id]);
      privates[0]!.ack();
      await vi.waitFor(() => expect(seen.delivered.map((e) => e.id)).toEqual([id, only]));
      expect(seen.confirmed).toEqual([id, only]);
    });

    it("a connection with ack: 'auto' confirms as it hands out; message.ack() in a tab does nothing", async () => {
      hub = await TestHub.start({ receipts: { undeliveredAfterMs: 2000 } });
      const seen = watchReceipts();
      const auto = openTab(undefined, 'auto');
      await inState(auto as never, 'open');
      const manual = openTab(undefined, 'manual');
      const ids: Array<string | undefined> = [];
      manual.on('notice', (_data, message) => ids.push(message.id));
      await inState(manual as never, 'open');
      const id = await hub.hub.sendMessage('alice', 'notice', {});
      await vi.waitFor(() => expect(seen.delivered.map((e) => e.id)).toEqual([id]));
      expect(ids).toEqual([id]);
      expect(seen.confirmed).toEqual([id]);
    });
  });

  it("'recovered' reaches every tab; each tab's watches are on the socket again after a reconnect", async () => {
    hub = await TestHub.start({ recovery: true });
    const a = openTab();
    const b = openTab();
    const got: string[] = [];
    a.on('feed-a', () => got.push('a'));
    b.on('feed-b', () => got.push('b'));
    expect(await a.watch('feed-a').whenConfirmed()).toBe(true);
    expect(await b.watch('feed-b').whenConfirmed()).toBe(true);
    const recovered = [nextEvent(a as never, 'recovered'), nextEvent(b as never, 'recovered')];
    await hub.restart(); // a new history: recovered false
    expect(await Promise.all(recovered)).toEqual([
      { recovered: false, missed: 0 },
      { recovered: false, missed: 0 },
    ]);
    await vi.waitFor(() => {
      const sockets = hub.hub.socketsOf('alice');
      expect(sockets).toHaveLength(1);
      expect([...sockets[0]!.watching.keys()].sort()).toEqual(['feed-a', 'feed-b']);
    });
    await hub.hub.sendMessage('alice', 'feed-b', {}, true);
    await hub.hub.sendMessage('alice', 'feed-a', {}, true);
    // Each tab's port keeps its own order; between two tabs there is none.
    await vi.waitFor(() => expect(got.sort()).toEqual(['a', 'b']));
  });

  it('a new worker resumes from the earliest position the tabs bring, so none misses what it had not handled', async () => {
    hub = await TestHub.start({ recovery: true });
    const options = (position?: SharedOptions['position']): SharedOptions => {
      const resolved = resolveOptions(hub.url, { share: 'worker', token: () => 'alice-token' });
      const shared: SharedOptions = {
        url: resolved.url.href,
        protocols: [],
        tokenIn: 'query',
        hasToken: true,
        reconnect: resolved.reconnect,
        maxQueuedMessages: 16,
        recover: true,
        ack: 'auto',
      };
      return position ? { ...shared, position } : shared;
    };
    /** A tab's port, spoken to directly: it answers token requests and records messages. */
    const rawTab = (on: ShareHost, position: SharedOptions['position'], watches: string[]) => {
      const { port1, port2 } = new MessageChannel();
      on.connect(port2 as never);
      const got: Extract<WorkerMessage, { type: 'message' }>[] = [];
      port1.onmessage = ({ data }: { data: WorkerMessage }) => {
        if (data.type === 'token') port1.postMessage({ type: 'token', id: data.id, token: 'alice-token' } satisfies TabMessage);
        if (data.type === 'message') got.push(data);
      };
      port1.postMessage({ type: 'attach', options: options(position), lock: null } satisfies TabMessage);
      for (const [key, event] of watches.entries()) {
        port1.postMessage({ type: 'watch', key, event, payload: null } satisfies TabMessage);
        port1.postMessage({ type: 'listen', event } satisfies TabMessage);
      }
      return { got, close: () => port1.close() };
    };
    // The first worker: one tab watching both events sees where each message lies.
    const before = rawTab(host, undefined, ['feed-a', 'feed-b']);
    await vi.waitFor(() => expect(hub.hub.socketsOf('alice')[0]?.watching.size).toBe(2));
    await hub.hub.sendMessage('alice', 'feed-a', { n: 1 }, true);
    await vi.waitFor(() => expect(before.got).toHaveLength(1));
    host.close(); // the worker is gone
    before.close();
    await vi.waitFor(() => expect(hub.hub.socketsOf('alice')).toHaveLength(0));
    // While no socket is up: one for A, then one for B, which B's tab is taken to have handled (the in-memory history counts by one).
    await hub.hub.sendMessage('alice', 'feed-a', { n: 2 }, true);
    const handledByA = before.got[0]!.position!;
    const handledByB = { epoch: handledByA.epoch, offset: handledByA.offset + 2 };
    await hub.hub.sendMessage('alice', 'feed-b', { n: 3 }, true);
    // A new worker; B attaches first, with the later position.
    const next = new ShareHost(undefined);
    const b = rawTab(next, handledByB, ['feed-b']);
    const a = rawTab(next, handledByA, ['feed-a']);
    await vi.waitFor(() => expect(a.got.map((m) => m.data)).toEqual([{ n: 2 }]));
    await hub.hub.sendMessage('alice', 'feed-b', { n: 4 }, true);
    await vi.waitFor(() => expect(b.got.map((m) => m.data)).toContainEqual({ n: 4 }));
    // B's tab drops what it handled by its position: the host hands it on with the position.
    expect(b.got.filter((m) => m.position!.offset > handledByB.offset).map((m) => m.data)).toEqual([{ n: 4 }]);
    next.close();
    a.close();
    b.close();
  });
});
