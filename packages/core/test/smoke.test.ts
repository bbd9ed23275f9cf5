import { afterEach, describe, expect, it } from 'vitest';
import { type Fixture, startHub } from './helpers.js';

let f: Fixture;
afterEach(() => f?.close());

describe('smoke', () => {
  it('authenticates, watches and delivers', async () => {
    f = await startHub();
    const a = await f.ready('user=u1&device=phone');
    a.watch('order-status', 42);
    a.send({ event: 'ping' });
    await new Promise((r) => setTimeout(r, 50));
    await f.hub.sendMessage('u1', 'order-status', { id: 42 }, 42);
    expect(await a.next()).toEqual({ event: 'order-status', data: { id: 42 } });
    await f.hub.push('all', { v: 1 });
    expect(await a.next()).toEqual({ event: 'all', data: { v: 1 } });
    expect(f.hub.stats()).toMatchObject({ connections: 1, users: 1 });
  });
});
