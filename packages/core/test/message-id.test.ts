import { afterEach, describe, expect, it } from 'vitest';
import { RecentIds } from '../src/recent-ids.js';
import { expectNextIs, type Fixture, startHub } from './helpers.js';

let f: Fixture | undefined;
afterEach(async () => {
  await f?.close();
  f = undefined;
});

describe('delivery: a message id sent again is dropped', () => {
  it('sendMessage with an id already sent reaches the sockets once; other ids and no id are sent', async () => {
    f = await startHub();
    const client = await f.ready('user=u1');
    await f.hub.sendMessage('u1', 'shipped', { n: 1 }, undefined, { id: 'row-1' });
    await f.hub.sendMessage('u1', 'shipped', { n: 1 }, undefined, { id: 'row-1' });
    await f.hub.sendMessage('u1', 'shipped', { n: 2 }, undefined, { id: 'row-2' });
    await f.hub.sendMessage('u1', 'plain', 1);
    await f.hub.sendMessage('u1', 'plain', 1);
    await f.hub.sendMessage('u1', 'end');
    const got = [];
    for (;;) {
      const m = await f.clients[0]!.next();
      if (m.event === 'end') break;
      got.push(`${m.event}:${JSON.stringify(m.data)}`);
    }
    expect(got).toEqual(['shipped:{"n":1}', 'shipped:{"n":2}', 'plain:1', 'plain:1']);
    expect(client.unread).toEqual([]);
  });

  it('push with an id already sent reaches the sockets once', async () => {
    f = await startHub();
    const client = await f.ready('user=u1');
    await f.hub.push('alert', 'a', null, undefined, { id: 'row-7' });
    await f.hub.push('alert', 'a', null, undefined, { id: 'row-7' });
    await f.hub.push('end');
    expect((await client.next()).event).toBe('alert');
    await expectNextIs(client, 'end');
  });

  it.each([
    [{ id: '' }, 'send option "id" must be a non-empty string, got an empty string'],
    [{ id: 7 }, 'send option "id" must be a non-empty string, got number'],
    [null, 'send options must be an object, got null'],
  ])('refuses the options %j with a TypeError', async (options, message) => {
    f = await startHub();
    await expect(f.hub.sendMessage('u1', 'e', 1, undefined, options as never)).rejects.toThrow(message);
    await expect(f.hub.push('e', 1, null, undefined, options as never)).rejects.toThrow(message);
  });
});

describe('RecentIds: bounded in count and in time', () => {
  it('forgets an id after its time, and the oldest ids past the count', () => {
    const ids = new RecentIds(3, 1000);
    expect(ids.repeat('a', 0)).toBe(false);
    expect(ids.repeat('a', 999)).toBe(true);
    expect(ids.repeat('a', 1000)).toBe(false);
    expect(ids.repeat('b', 1001)).toBe(false);
    expect(ids.repeat('c', 1002)).toBe(false);
    expect(ids.repeat('d', 1003)).toBe(false);
    // Four ids at most three: the oldest ('a') went.
    expect(ids.repeat('a', 1004)).toBe(false);
    expect(ids.repeat('d', 1005)).toBe(true);
  });
});
