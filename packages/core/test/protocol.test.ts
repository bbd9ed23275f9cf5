import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { CloseCode, closePolicy } from '../src/protocol/protocol.js';
import { type Fixture, startHub, type User, waitFor } from './helpers.js';

let f: Fixture | undefined;
afterEach(async () => {
  await f?.close();
  f = undefined;
});

describe('protocol: invalid frames close with 4400 and a sentence naming what was wrong', () => {
  it.each([
    ['not JSON', '{event: nope', 'message is not valid JSON'],
    ['a JSON string', '"watch"', 'message must be a JSON object'],
    ['a JSON array', '[{"event":"x"}]', 'message must be a JSON object'],
    ['null', 'null', 'message must be a JSON object'],
    ['no event', '{"data":1}', 'message "event" must be a non-empty string'],
    ['a numeric event', '{"event":1}', 'message "event" must be a non-empty string'],
    ['an empty event', '{"event":""}', 'message "event" must be a non-empty string'],
    ['an inherited event', '{"__proto__":{"event":"x"}}', 'message "event" must be a non-empty string'],
  ])('%s', async (_name, frame, reason) => {
    f = await startHub();
    const bad = await f.ready('user=u1&device=a');
    const other = await f.ready('user=u2');
    bad.send(frame);
    expect(await bad.waitForClose()).toEqual({ code: 4400, reason });
    // Other sockets never notice.
    await f.hub.sendMessage('u2', 'still-here', 1);
    expect(await other.next()).toEqual({ event: 'still-here', data: 1 });
  });
});

describe('protocol: binary frames close with 1003', () => {
  it('after auth', async () => {
    f = await startHub();
    const client = await f.ready('user=u1');
    client.ws.send(Buffer.from('{"event":"x"}'), { binary: true });
    expect((await client.waitForClose()).code).toBe(1003);
  });

  it('at once, also before auth settles', async () => {
    f = await startHub({ authenticate: () => new Promise<User>(() => {}) });
    const connected = waitFor(f.hub, 'connected');
    const client = f.connect('user=u1');
    await client.opened;
    await connected;
    client.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    expect((await client.waitForClose()).code).toBe(1003);
  });
});

describe('protocol: frames over maxPayload close with 1009 (fix: ws allows 100 MiB)', () => {
  it('uses 64 KiB by default', async () => {
    f = await startHub();
    const client = await f.ready('user=u1');
    const other = await f.ready('user=u2');
    client.send({ event: 'big', data: 'x'.repeat(64 * 1024) });
    expect((await client.waitForClose()).code).toBe(1009);
    await f.hub.sendMessage('u2', 'ok', null);
    expect(await other.next()).toEqual({ event: 'ok', data: null });
  });

  it('honours limits.maxPayload', async () => {
    f = await startHub({ limits: { maxPayload: 100 } });
    const client = await f.ready('user=u1');
    const messages: string[] = [];
    f.hub.on('message', ({ event }) => messages.push(event));
    client.send({ event: 'small', data: 'x'.repeat(50) });
    await expect.poll(() => messages).toEqual(['small']);
    client.send({ event: 'big', data: 'x'.repeat(100) });
    expect((await client.waitForClose()).code).toBe(1009);
  });
});

describe('protocol: client events reach the message notification', () => {
  it('emits { socket, event, data } for events other than watch/unwatch', async () => {
    f = await startHub();
    const client = await f.ready('user=u1');
    const message = waitFor<{ socket: { roomId: string }; event: string; data: unknown }>(f.hub, 'message');
    client.send({ event: 'typing', data: { orderId: 42 } });
    const m = await message;
    expect(m.event).toBe('typing');
    expect(m.data).toEqual({ orderId: 42 });
    expect(m.socket.roomId).toBe('u1');
  });

  it('a throwing message handler is reported through error and the socket stays open', async () => {
    f = await startHub();
    const client = await f.ready('user=u1');
    f.hub.on('message', () => {
      throw new Error('handler bug');
    });
    const error = waitFor<Error>(f.hub, 'error');
    client.send({ event: 'typing' });
    expect((await error).message).toContain('handler bug');
    await f.hub.sendMessage('u1', 'after', 1);
    expect(await client.next()).toEqual({ event: 'after', data: 1 });
  });
});

describe('protocol: hostile names never reach prototypes or emitter internals', () => {
  it.each(['__proto__', 'constructor', 'toString', 'hasOwnProperty', '*', 'error', 'ready'])(
    'event name %s',
    async (name) => {
      f = await startHub();
      const client = await f.ready('user=u1');
      const errors: unknown[] = [];
      f.hub.on('error', (e) => errors.push(e));
      const events: string[] = [];
      f.hub.on('message', ({ event }) => events.push(event));
      client.send(`{"event":${JSON.stringify(name)},"data":{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}}`);
      client.watch(name, name);
      await expect.poll(() => events).toEqual([name]);
      await f.hub.sendMessage('u1', name, { ok: true }, name);
      expect(await client.next()).toEqual({ event: name, data: { ok: true } });
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect(Object.hasOwn(Object.prototype, 'polluted')).toBe(false);
      expect(errors).toEqual([]);
      expect(f.hub.socketsOf('u1')[0]!.watching.get(name)).toEqual(new Set([name]));
    },
  );
});

describe('closePolicy follows the close-code table of docs/PROTOCOL.md', () => {
  it.each([
    [CloseCode.GoingAway, 'reconnect'],
    [CloseCode.ServiceRestart, 'reconnect'],
    [CloseCode.ProtocolError, 'bug'],
    [CloseCode.UnsupportedData, 'bug'],
    [1006, 'reconnect'],
    [CloseCode.InvalidPayload, 'bug'],
    [CloseCode.PolicyViolation, 'bug'],
    [CloseCode.MessageTooBig, 'bug'],
    [CloseCode.DisconnectedByServer, 'stop'],
    [CloseCode.SessionExpired, 'reconnect'],
    [CloseCode.TooManySockets, 'stop'],
    [CloseCode.SlowConsumer, 'reconnect'],
    [CloseCode.BadRequest, 'bug'],
    [CloseCode.Forbidden, 'stop'],
    [CloseCode.AuthTimeout, 'reconnect'],
    [CloseCode.TooManyRequests, 'reconnect'],
  ])('%i → %s', (code, policy) => {
    expect(closePolicy(code)).toBe(policy);
  });

  it('the table in docs/PROTOCOL.md lists every code the hub or ws sends, with the same policy', () => {
    const doc = readFileSync(new URL('../../../docs/PROTOCOL.md', import.meta.url), 'utf8');
    const rows = new Map<number, string>();
    for (const match of doc.matchAll(/^\| (\d{4}) \|.*\| ([^|]+) \|$/gm)) rows.set(Number(match[1]), match[2]!);
    for (const code of Object.values(CloseCode).filter((v): v is number => typeof v === 'number')) {
      const row = rows.get(code);
      expect(row, `docs/PROTOCOL.md has no row for ${code}`).toBeDefined();
      const expected = { reconnect: /^reconnect/, stop: /^stop(?!: client bug)/, bug: /^stop: client bug/ }[closePolicy(code)];
      expect(row).toMatch(expected);
    }
  });
});

