import { afterEach, describe, expect, it } from 'vitest';
import { RecentIds } from '../src/brokers/recent-ids.js';
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

  it('an id whose send failed before delivery stays free: the sender sends it again', async () => {
    f = await startHub();
    const client = await f.ready('user=u1');
    let failures = 1;
    // Serializing fails once (a transient fault in the app's toJSON): nothing was delivered.
    const data = {
      toJSON() {
        if (failures-- > 0) throw new Error('not now');
        return { n: 1 };
      },
    };
    const errors: Error[] = [];
    f.hub.on('error', (error) => errors.push(error));
    await f.hub.sendMessage('u1', 'shipped', data, undefined, { id: 'row-9' });
    expect(errors).toHaveLength(1);
    await f.hub.sendMessage('u1', 'shipped', data, undefined, { id: 'row-9' });
    expect(await client.next()).toMatchObject({ event: 'shipped', data: { n: 1 } });
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
    [{ id: '' }, 'sendMessage/push: option "id" must be a non-empty string, got ""'],
    [{ id: 7 }, 'sendMessage/push: option "id" must be a non-empty string, got 7'],
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
    ids.add('a', 0);
    expect(ids.has('a', 999)).toBe(true);
    expect(ids.has('a', 1000)).toBe(false);
    ids.add('b', 1001);
    ids.add('c', 1002);
    ids.add('d', 1003);
    // A fourth id, at most three: the oldest ('b') goes.
    ids.add('e', 1004);
    expect(ids.has('b', 1004)).toBe(false);
    expect(['c', 'd', 'e'].map((id) => ids.has(id, 1005))).toEqual([true, true, true]);
  });

  it('an id added again keeps its later time, and counts once', () => {
    const ids = new RecentIds(2, 1000);
    ids.add('a', 0);
    ids.add('a', 500);
    ids.add('b', 600);
    expect(ids.has('a', 1200)).toBe(true);
    expect(ids.has('b', 1200)).toBe(true);
    expect(ids.has('a', 1500)).toBe(false);
  });

  it('full, it stays fast: 100,000 sends with new ids cost at most 5× a bare Map with a queue', () => {
    const N = 100_000;
    const time = (run: (id: string, i: number) => void) => {
      const started = performance.now();
      for (let i = 0; i < N; i++) run(`row-${i}`, i);
      return performance.now() - started;
    };
    // The least it could cost: a Map of the last 10,000 ids, the oldest found by index.
    const map = new Map<string, number>();
    const queue: string[] = [];
    const bare = time((id, i) => {
      if (map.has(id)) return;
      map.set(id, i);
      queue.push(id);
      if (map.size > 10_000) map.delete(queue[i - 10_000]!);
    });
    // Deleting a Map's first entry one by one, as RecentIds did, made every later look at the first entry slower: ~12× the bare loop.
    const ids = new RecentIds();
    const recent = time((id, i) => {
      if (!ids.has(id, i)) ids.add(id, i);
    });
    expect(recent).toBeLessThan(5 * bare);
    expect(ids.has('row-89999', N)).toBe(false);
    expect(ids.has('row-90000', N)).toBe(true);
  });
});
