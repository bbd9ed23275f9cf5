import { afterEach, describe, expect, it } from 'vitest';
import { InMemoryBroker, InMemoryBus } from '../src/index.js';
import { type Fixture, flush, startHub, type TestSocket } from './helpers.js';

let fixtures: Fixture[] = [];
afterEach(async () => {
  await Promise.all(fixtures.map((f) => f.close()));
  fixtures = [];
});

const V2 = { protocols: ['wshub'] };

async function hub(options: Parameters<typeof startHub>[0] = {}): Promise<Fixture> {
  const f = await startHub(options);
  fixtures.push(f);
  return f;
}

/** A socket of `user` watching `order-status` for every scope, with every frame's text as it came. */
async function watcher(f: Fixture, user: string, v2: boolean): Promise<{ socket: TestSocket; texts: string[] }> {
  const socket = f.connect(`user=${user}&device=${v2 ? 'v2' : 'v1'}`, v2 ? V2 : {});
  const texts: string[] = [];
  socket.ws.on('message', (data) => texts.push(data.toString()));
  await socket.opened;
  if (v2) expect((await socket.next()).event).toBe('wshub:welcome');
  socket.watch('order-status');
  if (v2) expect((await socket.next()).event).toBe('wshub:ack');
  await flush(f, socket, user);
  texts.length = 0;
  return { socket, texts };
}

describe('scope: v2 message frames say which scope they were sent for', () => {
  it.each([
    ['a string', '42', '42'],
    ['a number, as its decimal string', 42, '42'],
    ['true', true, true],
    ['absent: to the whole user, no scope', undefined, undefined],
    ['false: to the whole user, no scope', false, undefined],
  ] as const)('sendMessage and push with %s', async (_name, arg, scope) => {
    const f = await hub();
    const { socket } = await watcher(f, 'bob', true);
    await f.hub.sendMessage('bob', 'order-status', { step: 1 }, arg);
    await f.hub.push('order-status', { step: 2 }, undefined, arg);
    await f.hub.push('order-status', (user) => ({ step: 3, user: user.id }), undefined, arg);
    const got = [await socket.next(), await socket.next(), await socket.next()];
    const frame = (data: unknown) => (scope === undefined ? { event: 'order-status', data } : { event: 'order-status', data, scope });
    expect(got).toEqual([frame({ step: 1 }), frame({ step: 2 }), frame({ step: 3, user: 'bob' })]);
  });

  it('a v1 socket gets the frame it always got, byte for byte', async () => {
    const f = await hub();
    const v1 = await watcher(f, 'bob', false);
    const v2 = await watcher(f, 'bob', true);
    await f.hub.sendMessage('bob', 'order-status', { id: 'é' }, '42');
    await f.hub.push('order-status', 1, undefined, true);
    await f.hub.sendMessage('bob', 'order-status', 2);
    await v2.socket.next();
    await v2.socket.next();
    await v2.socket.next();
    await flush(f, v1.socket, 'bob');
    expect(v1.texts.slice(0, 3)).toEqual([
      '{"event":"order-status","data":{"id":"é"}}',
      '{"event":"order-status","data":1}',
      '{"event":"order-status","data":2}',
    ]);
    expect(v2.texts).toEqual([
      '{"event":"order-status","data":{"id":"é"},"scope":"42"}',
      '{"event":"order-status","data":1,"scope":true}',
      '{"event":"order-status","data":2}',
    ]);
  });

  it('a scope that needs escaping is JSON', async () => {
    const f = await hub();
    const { socket } = await watcher(f, 'bob', true);
    await f.hub.sendMessage('bob', 'order-status', null, 'a"b\\ü');
    expect(await socket.next()).toEqual({ event: 'order-status', data: null, scope: 'a"b\\ü' });
  });

  it('a message from another node carries it too', async () => {
    const bus = new InMemoryBus();
    const a = await hub({ broker: new InMemoryBroker(bus) });
    const b = await hub({ broker: new InMemoryBroker(bus) });
    const { socket } = await watcher(b, 'bob', true);
    await a.hub.sendMessage('bob', 'order-status', 1, '42');
    await a.hub.push('order-status', 2, undefined, true);
    await a.hub.push('order-status', 3);
    expect([await socket.next(), await socket.next(), await socket.next()]).toEqual([
      { event: 'order-status', data: 1, scope: '42' },
      { event: 'order-status', data: 2, scope: true },
      { event: 'order-status', data: 3 },
    ]);
  });

  it('with recovery: live and replayed messages carry the scope, then the offset', async () => {
    const f = await hub({ recovery: true });
    const live = await watcher(f, 'bob', true);
    await f.hub.sendMessage('bob', 'order-status', 1, '42');
    await f.hub.push('order-status', 2, undefined, true);
    await f.hub.sendMessage('bob', 'order-status', 3);
    await live.socket.next();
    await live.socket.next();
    await live.socket.next();
    expect(live.texts).toEqual([
      '{"event":"order-status","data":1,"scope":"42","offset":1}',
      '{"event":"order-status","data":2,"scope":true,"offset":2}',
      '{"event":"order-status","data":3,"offset":3}',
    ]);
    const welcome = live.socket.messages[0]!.data as { recovery: { epoch: string } };
    const again = await watcher(f, 'bob', true);
    const answer = await again.socket.request('wshub:resume', { epoch: welcome.recovery.epoch, offset: 0 });
    expect(answer).toMatchObject({ status: 'recovered', missed: 3 });
    expect(again.texts.slice(0, 3)).toEqual(live.texts);
  });
});
