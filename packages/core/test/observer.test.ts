import { afterEach, describe, expect, it } from 'vitest';
import type { HubObserver } from '../src/index.js';
import { type Fixture, startHub } from './helpers.js';

let f: Fixture | undefined;
afterEach(async () => {
  await f?.close();
  f = undefined;
});

describe('hub.observe(): timings of auth, canWatch and delivery', () => {
  it('reports each with its outcome, in seconds; stats count watch refusals and errors by source', async () => {
    f = await startHub({
      canWatch: async ({ payload }) => {
        if (payload === 'boom') throw new Error('no');
        return payload !== 'secret';
      },
    });
    const seen: string[] = [];
    const durations: number[] = [];
    const observer: HubObserver = {
      authSettled: (s, outcome) => {
        durations.push(s);
        seen.push(`auth:${outcome}`);
      },
      watchChecked: (s, outcome) => {
        durations.push(s);
        seen.push(`watch:${outcome}`);
      },
      delivered: (s, kind) => {
        durations.push(s);
        seen.push(`delivered:${kind}`);
      },
    };
    const remove = f.hub.observe(observer);
    const bob = await f.ready('user=bob');
    const refused = f.connect('user=bad');
    await refused.waitForClose();
    for (const payload of ['1', 'secret', 'boom']) bob.watch('order-status', payload);
    await f.hub.sendMessage('bob', 'marker', null);
    await bob.next(); // frames are handled in order: the three watches were decided before this
    await f.hub.push('news', (user) => ({ for: user.id }));
    expect(seen.filter((s) => s.startsWith('auth:'))).toEqual(['auth:accepted', 'auth:refused']);
    expect(seen.filter((s) => s.startsWith('watch:'))).toEqual(['watch:allowed', 'watch:forbidden', 'watch:error']);
    expect(seen.filter((s) => s.startsWith('delivered:'))).toEqual(['delivered:send', 'delivered:push']);
    for (const d of durations) expect(d).toBeGreaterThanOrEqual(0);
    const stats = f.hub.stats();
    expect(stats.watchRefusals).toBe(2);
    expect(stats.errorsBySource).toEqual({ canWatch: 1 });
    remove();
    await f.hub.sendMessage('bob', 'after', null);
    expect(seen.filter((s) => s.startsWith('delivered:'))).toHaveLength(2);
  });

  it('an observer that throws is reported as an observer error; the hub carries on', async () => {
    f = await startHub();
    const errors: string[] = [];
    f.hub.on('error', (e) => errors.push(e.source));
    f.hub.observe({
      delivered: () => {
        throw new Error('broken metrics');
      },
    });
    const bob = await f.ready('user=bob');
    const gotIt = bob.next();
    await f.hub.sendMessage('bob', 'hello', 1);
    expect(await gotIt).toEqual({ event: 'hello', data: 1 });
    expect(errors).toEqual(['observer']);
    expect(() => f!.hub.observe(null as never)).toThrow(TypeError);
  });
});
