import { afterEach, describe, expect, it } from 'vitest';
import type { HubError, WatchContext, WsHubSocket } from '../src/index.js';
import { type Fixture, flush, startHub, type User, waitFor } from './helpers.js';

let f: Fixture | undefined;
afterEach(async () => {
  await f?.close();
  f = undefined;
});

/** Waits until the server-side socket of `user`/`device` holds exactly `watching`. */
async function watchingOf(fx: Fixture, user: string, device = 'device-1') {
  const socket = fx.hub.socketsOf(user).find((s) => s.deviceFingerprint === device);
  return socket ? Object.fromEntries([...socket.watching].map(([e, s]) => [e, [...s]])) : undefined;
}

describe('watch: registration', () => {
  it('registers (event, payload); a number payload becomes its decimal string', async () => {
    f = await startHub();
    const c = await f.ready('user=u1');
    c.watch('order-status', 42);
    c.watch('order-status', '43');
    c.watch('news');
    await flush(f, c, 'u1');
    expect(await watchingOf(f, 'u1')).toEqual({ 'order-status': ['42', '43'], news: [null] });
  });

  it('is a no-op when already watching (canWatch is not asked again)', async () => {
    let asked = 0;
    f = await startHub({ canWatch: () => { asked++; return true; } });
    const c = await f.ready('user=u1');
    c.watch('order-status', '42');
    c.watch('order-status', 42);
    await flush(f, c, 'u1');
    expect(asked).toBe(1);
    expect(await watchingOf(f, 'u1')).toEqual({ 'order-status': ['42'] });
  });

  it('passes { user, userId, event, payload, socket } to canWatch', async () => {
    const contexts: WatchContext<User, WsHubSocket<User>>[] = [];
    f = await startHub({ canWatch: (ctx) => { contexts.push(ctx); return true; } });
    const c = await f.ready('user=u1&device=phone');
    c.watch('order-status', 7);
    c.watch('news', null);
    await flush(f, c, 'u1');
    expect(contexts.map(({ userId, event, payload }) => ({ userId, event, payload }))).toEqual([
      { userId: 'u1', event: 'order-status', payload: '7' },
      { userId: 'u1', event: 'news', payload: null },
    ]);
    expect(contexts[0]!.user.id).toBe('u1');
    expect(contexts[0]!.socket).toBe(f.hub.socketsOf('u1')[0]);
  });
});

describe('watch: invalid bodies get an exception reply and the socket stays open', () => {
  it.each([
    ['no data', { event: 'watch' }, 'watch "data" must be an object'],
    ['data is a string', { event: 'watch', data: 'order-status' }, 'watch "data" must be an object'],
    ['no event', { event: 'watch', data: { payload: '1' } }, 'watch "data.event" must be a string of 1 to 200 characters'],
    ['empty event', { event: 'watch', data: { event: '' } }, 'watch "data.event" must be a string of 1 to 200 characters'],
    ['event too long', { event: 'watch', data: { event: 'e'.repeat(201) } }, 'watch "data.event" must be a string of 1 to 200 characters'],
    ['object payload', { event: 'watch', data: { event: 'e', payload: { id: 1 } } }, 'watch "data.payload" must be a string, a number or null'],
    ['boolean payload', { event: 'watch', data: { event: 'e', payload: true } }, 'watch "data.payload" must be a string, a number or null'],
    ['unwatch without event', { event: 'unwatch', data: {} }, 'unwatch "data.event" must be a string of 1 to 200 characters'],
  ])('%s', async (_name, frame, message) => {
    f = await startHub();
    const c = await f.ready('user=u1');
    c.send(frame);
    const reply = await c.next();
    expect(reply.event).toBe('exception');
    expect(reply.data).toMatchObject({ status: 'error' });
    expect((reply.data as { message: string }).message).toContain(message);
    await f.hub.sendMessage('u1', 'still-open', 1);
    expect(await c.next()).toEqual({ event: 'still-open', data: 1 });
  });
});

describe('watch: refused watches (fix: the forbidden reply goes to the requesting socket only)', () => {
  it.each([
    ['returns false', () => false],
    ['resolves false', async () => false],
    ['returns a truthy non-true value', () => 'yes' as unknown as boolean],
  ])('canWatch %s → forbidden reply to that socket only', async (_name, canWatch) => {
    f = await startHub({ canWatch });
    const phone = await f.ready('user=u1&device=phone');
    const laptop = await f.ready('user=u1&device=laptop');
    phone.watch('order-status', 42);
    expect(await phone.next()).toEqual({
      event: 'watch',
      data: { event: 'order-status', payload: '42', forbidden: true },
    });
    await f.hub.sendMessage('u1', 'marker', 1);
    expect(await laptop.next()).toEqual({ event: 'marker', data: 1 });
    expect(await watchingOf(f, 'u1', 'phone')).toEqual({});
  });

  it.each([
    ['throws', () => { throw new Error('db down'); }],
    ['rejects', async () => { throw new Error('db down'); }],
  ])('canWatch %s → forbidden reply and an error', async (_name, canWatch) => {
    f = await startHub({ canWatch: canWatch as never });
    const c = await f.ready('user=u1');
    const error = waitFor<HubError>(f.hub, 'error');
    c.watch('order-status');
    expect(await c.next()).toEqual({ event: 'watch', data: { event: 'order-status', payload: null, forbidden: true } });
    const err = await error;
    expect(err.source).toBe('canWatch');
    expect(err.message).toContain('db down');
  });
});

describe('watch: limits.maxWatchesPerSocket', () => {
  it('refuses the watch past the limit with an exception and keeps the others', async () => {
    f = await startHub({ limits: { maxWatchesPerSocket: 2 } });
    const c = await f.ready('user=u1');
    c.watch('a', 1);
    c.watch('a', 2);
    c.watch('a', 3);
    const reply = await c.next();
    expect(reply).toEqual({
      event: 'exception',
      data: { status: 'error', message: 'watch limit reached: a socket may hold at most 2 watches' },
    });
    expect(await watchingOf(f, 'u1')).toEqual({ a: ['1', '2'] });
    c.unwatch('a', 1);
    c.watch('a', 3);
    await flush(f, c, 'u1');
    expect(await watchingOf(f, 'u1')).toEqual({ a: ['2', '3'] });
  });
});

describe('watch: unwatch removes exactly that (event, payload)', () => {
  it('leaves the wildcard and other scopes alone', async () => {
    f = await startHub();
    const c = await f.ready('user=u1');
    c.watch('order-status', '1');
    c.watch('order-status', '2');
    c.watch('order-status');
    c.unwatch('order-status', 1);
    await flush(f, c, 'u1');
    expect(await watchingOf(f, 'u1')).toEqual({ 'order-status': ['2', null] });
    c.unwatch('order-status');
    c.unwatch('order-status', '2');
    c.unwatch('never-watched', 'x');
    await flush(f, c, 'u1');
    expect(await watchingOf(f, 'u1')).toEqual({});
  });
});

describe('watch: async canWatch keeps frame order', () => {
  it('a watch followed by an unwatch of the same scope ends unwatched', async () => {
    f = await startHub({ canWatch: () => new Promise((r) => setTimeout(() => r(true), 30)) });
    const c = await f.ready('user=u1');
    c.watch('order-status', '42');
    c.unwatch('order-status', '42');
    c.watch('news');
    await flush(f, c, 'u1');
    expect(await watchingOf(f, 'u1')).toEqual({ news: [null] });
  });
});

describe('watch: an async canWatch that never answers (watchTimeoutMs)', () => {
  it('counts as a refusal, is reported, and does not hold up later frames', async () => {
    f = await startHub({
      watchTimeoutMs: 100,
      canWatch: ({ event }) => (event === 'stuck' ? new Promise<boolean>(() => {}) : true),
    });
    const c = await f.ready('user=u1');
    const error = waitFor<HubError>(f.hub, 'error');
    c.watch('stuck');
    c.watch('news');
    expect(await c.next()).toEqual({ event: 'watch', data: { event: 'stuck', payload: null, forbidden: true } });
    expect((await error).message).toContain('did not answer within 100 ms');
    await flush(f, c, 'u1');
    expect(await watchingOf(f, 'u1')).toEqual({ news: [null] });
  });
});
