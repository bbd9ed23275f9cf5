import { afterEach, describe, expect, it } from 'vitest';
import type { HubError } from '../src/index.js';
import { type Fixture, flush, startHub, type TestSocket, type User, waitFor } from './helpers.js';

let f: Fixture | undefined;
afterEach(async () => {
  await f?.close();
  f = undefined;
});

/** Sends a marker to every client and returns what each had received before it. */
async function drain(fx: Fixture, clients: Record<string, TestSocket>): Promise<Record<string, string[]>> {
  await fx.hub.push('__end__', null);
  const out: Record<string, string[]> = {};
  for (const [name, client] of Object.entries(clients)) {
    const got: string[] = [];
    for (;;) {
      const m = await client.next();
      if (m.event === '__end__') break;
      got.push(`${m.event}:${JSON.stringify(m.data)}`);
    }
    out[name] = got;
  }
  return out;
}

describe('delivery: sendMessage and the isWatchingOrPayload filter', () => {
  async function setup() {
    f = await startHub();
    const all = await f.ready('user=u1&device=all');
    const any = await f.ready('user=u1&device=any');
    const scoped = await f.ready('user=u1&device=scoped');
    const wild = await f.ready('user=u1&device=wild');
    const other = await f.ready('user=u2');
    any.watch('order-status', '1');
    any.watch('order-status', '2');
    scoped.watch('order-status', '42');
    wild.watch('order-status');
    for (const c of [any, scoped, wild]) await flush(f, c, 'u1');
    return { all, any, scoped, wild, other };
  }

  it.each([
    ['absent → every socket of the user', undefined, ['all', 'any', 'scoped', 'wild']],
    ['false → every socket of the user', false, ['all', 'any', 'scoped', 'wild']],
    ['null → every socket of the user', null, ['all', 'any', 'scoped', 'wild']],
    ['true → sockets watching the event, any scope', true, ['any', 'scoped', 'wild']],
    ['a number → that scope or the wildcard', 42, ['scoped', 'wild']],
    ['a string → that scope or the wildcard', '42', ['scoped', 'wild']],
    ['an unwatched scope → wildcard only', '99', ['wild']],
  ])('%s', async (_name, filter, expected) => {
    const clients = await setup();
    await f!.hub.sendMessage('u1', 'order-status', { id: 42 }, filter as never);
    const got = await drain(f!, clients);
    const receivers = Object.entries(got)
      .filter(([, events]) => events.length > 0)
      .map(([name]) => name);
    expect(receivers.sort()).toEqual([...expected].sort());
    for (const name of expected) expect(got[name]).toEqual(['order-status:{"id":42}']);
  });

  it('rejects an invalid filter with a TypeError naming it', async () => {
    f = await startHub();
    await expect(f.hub.sendMessage('u1', 'e', 1, {} as never)).rejects.toThrow(/isWatchingOrPayload/);
    await expect(f.hub.sendMessage('', 'e', 1)).rejects.toThrow(/"userId" must be a non-empty string/);
  });

  it('sending to a user with no sockets is a no-op', async () => {
    f = await startHub();
    await expect(f.hub.sendMessage('nobody', 'e', 1)).resolves.toEqual(expect.any(String));
  });
});

describe('delivery: cost rules', () => {
  it('sendMessage runs serialize once per call, not per socket', async () => {
    let calls = 0;
    f = await startHub({ serialize: (d) => { calls++; return d; } });
    const a = await f.ready('user=u1&device=a');
    const b = await f.ready('user=u1&device=b');
    const c = await f.ready('user=u1&device=c');
    await f.hub.sendMessage('u1', 'e', { n: 1 });
    expect(calls).toBe(1);
    for (const client of [a, b, c]) expect(await client.next()).toEqual({ event: 'e', data: { n: 1 } });
  });

  it('push with plain data serializes once for the whole push', async () => {
    let calls = 0;
    f = await startHub({ serialize: (d) => { calls++; return d; } });
    const clients = await Promise.all(['u1', 'u2', 'u3'].map((u) => f!.ready(`user=${u}`)));
    await f.hub.push('e', { n: 1 });
    expect(calls).toBe(1);
    for (const client of clients) expect(await client.next()).toEqual({ event: 'e', data: { n: 1 } });
  });

  it('push runs allow and the data callback once per user, not per socket', async () => {
    f = await startHub();
    const clients = {
      a1: await f.ready('user=a&device=1&role=admin'),
      a2: await f.ready('user=a&device=2&role=admin'),
      b1: await f.ready('user=b&device=1'),
      c1: await f.ready('user=c&device=1&role=admin'),
    };
    const allowCalls: string[] = [];
    const dataCalls: string[] = [];
    await f.hub.push(
      'admin-alert',
      (user: User) => { dataCalls.push(user.id); return { for: user.id }; },
      (user: User) => { allowCalls.push(user.id); return user.role === 'admin'; },
    );
    expect(allowCalls.sort()).toEqual(['a', 'b', 'c']);
    expect(dataCalls.sort()).toEqual(['a', 'c']);
    expect(await drain(f, clients)).toEqual({
      a1: ['admin-alert:{"for":"a"}'],
      a2: ['admin-alert:{"for":"a"}'],
      b1: [],
      c1: ['admin-alert:{"for":"c"}'],
    });
  });

  it('push callbacks run concurrently, at most limits.pushConcurrency at a time', async () => {
    f = await startHub({ limits: { pushConcurrency: 3 } });
    for (let i = 0; i < 8; i++) await f.ready(`user=u${i}`);
    let active = 0;
    let peak = 0;
    const allow = async () => {
      active++;
      peak = Math.max(peak, active);
      await new Promise((r) => setTimeout(r, 10));
      active--;
      return true;
    };
    await f.hub.push('e', 1, allow);
    expect(peak).toBe(3);
  });

  it('a callback that throws skips that user, reports an error, and everyone else still gets the message', async () => {
    f = await startHub();
    const clients = { a: await f.ready('user=a'), b: await f.ready('user=b'), c: await f.ready('user=c') };
    const errors: HubError[] = [];
    f.hub.on('error', (e) => errors.push(e));
    await f.hub.push(
      'e',
      async (user: User) => {
        if (user.id === 'b') throw new Error('no data for b');
        return user.id;
      },
      (user: User) => {
        if (user.id === 'c') throw new Error('allow broke for c');
        return true;
      },
    );
    expect(await drain(f, clients)).toEqual({ a: ['e:"a"'], b: [], c: [] });
    expect(errors.map((e) => e.source).sort()).toEqual(['push allow', 'push data']);
    expect(errors.map((e) => e.message).join()).toMatch(/no data for b.*|allow broke for c/);
  });

  it('a serialize that throws is reported and nothing is sent', async () => {
    f = await startHub({ serialize: () => { throw new Error('cannot serialize'); } });
    const c = await f.ready('user=u1');
    const error = waitFor<HubError>(f.hub, 'error');
    await expect(f.hub.sendMessage('u1', 'e', 1)).resolves.toEqual(expect.any(String));
    expect((await error).source).toBe('serialize');
    expect(c.unread).toEqual([]);
  });

  it('data that JSON cannot encode (a BigInt) is reported and nothing is sent', async () => {
    f = await startHub();
    await f.ready('user=u1');
    const error = waitFor<HubError>(f.hub, 'error');
    await f.hub.push('e', { n: 1n });
    expect((await error).message).toMatch(/BigInt/);
  });
});

describe('delivery: push with a filter only reaches watchers', () => {
  it('push(event, data, undefined, payload) reaches sockets watching that scope or the wildcard', async () => {
    f = await startHub();
    const clients = {
      scoped: await f.ready('user=a'),
      other: await f.ready('user=b'),
      wild: await f.ready('user=c'),
      none: await f.ready('user=d'),
    };
    clients.scoped.watch('price', 'BTC');
    clients.other.watch('price', 'ETH');
    clients.wild.watch('price');
    for (const [name, c] of Object.entries(clients)) await flush(f, c, { scoped: 'a', other: 'b', wild: 'c', none: 'd' }[name]!);
    await f.hub.push('price', 1, undefined, 'BTC');
    await f.hub.push('price', 2, undefined, true);
    await f.hub.push('price', 3, () => true, 'ETH');
    expect(await drain(f, clients)).toEqual({
      scoped: ['price:1', 'price:2'],
      other: ['price:2', 'price:3'],
      wild: ['price:1', 'price:2', 'price:3'],
      none: [],
    });
  });
});

describe('delivery: only OPEN sockets are written to', () => {
  it('a socket that is closing is skipped and counted as dropped, without throwing', async () => {
    f = await startHub();
    const a = await f.ready('user=u1&device=a');
    const b = await f.ready('user=u1&device=b');
    const [sa] = f.hub.socketsOf('u1').filter((s) => s.deviceFingerprint === 'a');
    sa!.close(1000); // closing: no longer OPEN, still registered until the close completes
    await expect(f.hub.sendMessage('u1', 'e', 1)).resolves.toEqual(expect.any(String));
    expect(f.hub.stats().dropped).toBe(1);
    expect(await b.next()).toEqual({ event: 'e', data: 1 });
    expect((await a.waitForClose()).code).toBe(1000);
  });
});

describe('delivery: slow consumers are cut off with 4008', () => {
  it('terminates a socket whose send buffer would pass maxBufferedBytes, and others keep receiving', async () => {
    f = await startHub({ limits: { maxBufferedBytes: 256 * 1024 } });
    const slow = await f.ready('user=slow');
    const fast = await f.ready('user=fast');
    // The slow client stops reading: the kernel buffers fill, then the hub's.
    (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const disconnected = waitFor<{ code: number; userId: string }>(f.hub, 'disconnected', (d) => d.userId === 'slow');
    const chunk = 'x'.repeat(16 * 1024);
    let cut = false;
    f.hub.on('disconnected', ({ userId }) => { if (userId === 'slow') cut = true; });
    for (let i = 0; i < 2000 && !cut; i++) {
      await f.hub.sendMessage('slow', 'big', chunk);
      if (i % 20 === 0) await new Promise((r) => setImmediate(r));
    }
    expect(await disconnected).toMatchObject({ code: 4008 });
    expect(f.hub.stats().slowConsumers).toBe(1);
    expect(f.hub.connectedUsers()).toEqual(['fast']);
    await f.hub.sendMessage('fast', 'ok', 1);
    expect(await fast.next()).toEqual({ event: 'ok', data: 1 });
  });
});

describe('delivery: disconnect closes with 4000', () => {
  it('one device when a fingerprint is given, every device otherwise', async () => {
    f = await startHub();
    const phone = await f.ready('user=u1&device=phone');
    const laptop = await f.ready('user=u1&device=laptop');
    const other = await f.ready('user=u2');
    await f.hub.disconnect('u1', 'phone');
    expect(await phone.waitForClose()).toEqual({ code: 4000, reason: 'disconnected by server: do not reconnect' });
    await f.hub.sendMessage('u1', 'e', 1);
    expect(await laptop.next()).toEqual({ event: 'e', data: 1 });
    await f.hub.disconnect('u1');
    expect((await laptop.waitForClose()).code).toBe(4000);
    expect(other.closed).toBeUndefined();
  });

  it('reports 4000 in disconnected', async () => {
    f = await startHub();
    await f.ready('user=u1');
    const d = waitFor(f.hub, 'disconnected');
    await f.hub.disconnect('u1');
    expect(await d).toMatchObject({ code: 4000, userId: 'u1', authorized: true });
  });
});

describe('delivery: updateUser replaces the user on every socket of that user', () => {
  it('push callbacks see the new user', async () => {
    f = await startHub();
    const phone = await f.ready('user=u1&device=phone');
    await f.ready('user=u1&device=laptop');
    await f.hub.updateUser({ id: 'u1', deviceFingerprint: 'phone', role: 'admin' });
    expect(f.hub.socketsOf('u1').map((s) => s.user.role)).toEqual(['admin', 'admin']);
    await f.hub.push('e', (u: User) => u.role, (u: User) => u.role === 'admin');
    expect(await phone.next()).toEqual({ event: 'e', data: 'admin' });
    await expect(f.hub.updateUser({} as never)).rejects.toThrow(/"id"/);
  });
});
