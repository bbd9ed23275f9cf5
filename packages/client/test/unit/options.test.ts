import { describe, expect, it } from 'vitest';
import { HubClient, type HubClientOptions } from '../../src/index.js';
import { fakeTransport } from '../support/fake-websocket.js';

const { WebSocket } = fakeTransport();

describe('options', () => {
  it.each<[string, unknown, HubClientOptions | undefined, string]>([
    ['a number url', 42, {}, 'url must be a string or a URL, got 42'],
    ['an http-less url', 'not a url', {}, 'url must be an absolute ws:// or wss:// URL (or relative, in a page), got "not a url"'],
    ['an ftp url', 'ftp://hub.test/', {}, 'url must use ws: or wss:, got "ftp://hub.test/"'],
    ['a url with a fragment', 'ws://hub.test/#x', {}, 'url must not have a #fragment'],
    ['options that are not an object', 'ws://hub.test/', 'yes' as never, 'options must be an object, got "yes"'],
    ['a bad subprotocol', 'ws://hub.test/', { protocols: ['a b'] }, 'option "protocols" must hold subprotocol names'],
    ['an array query', 'ws://hub.test/', { query: [] as never }, 'option "query" must be an object of strings, numbers or booleans, got an array'],
    ['an object query value', 'ws://hub.test/', { query: { a: {} as never } }, 'option "query.a" must be a string, a number or a boolean, got an object'],
    ['a string token', 'ws://hub.test/', { token: 'abc' as never }, 'option "token" must be a function that returns the token, got "abc"'],
    ['a bad tokenIn', 'ws://hub.test/', { tokenIn: 'header' as never }, `option "tokenIn" must be 'protocol' or 'query', got "header"`],
    ['a WebSocket that is not a class', 'ws://hub.test/', { WebSocket: {} as never }, 'option "WebSocket" must be a WebSocket class, got an object'],
    ['reconnect: true', 'ws://hub.test/', { reconnect: true as never }, 'option "reconnect" must be an object or false, got true'],
    ['a negative delay', 'ws://hub.test/', { reconnect: { initialDelayMs: -1 } }, 'option "reconnect.initialDelayMs" must be a number >= 0, got -1'],
    ['a factor below 1', 'ws://hub.test/', { reconnect: { factor: 0.5 } }, 'option "reconnect.factor" must be a number >= 1, got 0.5'],
    ['jitter above 1', 'ws://hub.test/', { reconnect: { jitter: 2 } }, 'option "reconnect.jitter" must be a number between 0 and 1, got 2'],
    ['NaN attempts', 'ws://hub.test/', { reconnect: { maxAttempts: Number.NaN } }, 'option "reconnect.maxAttempts" must be a number >= 0, got NaN'],
    ['max below initial', 'ws://hub.test/', { reconnect: { initialDelayMs: 500, maxDelayMs: 100 } }, 'option "reconnect.maxDelayMs" (100) must not be less than "reconnect.initialDelayMs" (500)'],
    ['a negative connectTimeoutMs', 'ws://hub.test/', { connectTimeoutMs: -1 }, 'option "connectTimeoutMs" must be a number between 0 and 2147483647, got -1'],
    ['an endless connectTimeoutMs', 'ws://hub.test/', { connectTimeoutMs: Number.POSITIVE_INFINITY }, 'option "connectTimeoutMs" must be a number between 0 and 2147483647, got Infinity'],
    ['a fractional queue', 'ws://hub.test/', { maxQueuedMessages: 1.5 }, 'option "maxQueuedMessages" must be a whole number, got 1.5'],
    ['share: "yes"', 'ws://hub.test/', { share: 'yes' as never }, `option "share" must be true, false, 'worker' or 'leader', got "yes"`],
    ["share: 'worker' with a WebSocket class", 'ws://hub.test/', { share: 'worker' }, `option "WebSocket" cannot be used with share: 'worker'`],
    ["share: 'leader' with a WebSocket class", 'ws://hub.test/', { share: 'leader' }, `option "WebSocket" cannot be used with share: 'leader'`],
  ])('refuses %s with a TypeError naming it', (_, url, options, message) => {
    const create = () => new HubClient(url as string, typeof options === 'object' ? { WebSocket, ...options } : options);
    expect(create).toThrow(TypeError);
    expect(create).toThrow(`wshub client: ${message}`);
  });

  it('says how to get a WebSocket when there is no global one', () => {
    const global = globalThis as { WebSocket?: unknown };
    const saved = global.WebSocket;
    delete global.WebSocket;
    try {
      expect(() => new HubClient('ws://hub.test/')).toThrow(
        'wshub client: there is no global WebSocket here; pass the "WebSocket" option (in Node 20: WebSocket from the "ws" package)',
      );
    } finally {
      if (saved !== undefined) global.WebSocket = saved;
    }
  });

  it.each([
    ['http://hub.test/api/v1/ws', 'ws://hub.test/api/v1/ws'],
    ['https://hub.test/api/v1/ws?a=1', 'wss://hub.test/api/v1/ws?a=1'],
    [new URL('wss://hub.test/x'), 'wss://hub.test/x'],
  ])('connects to %s as %s', async (url, expected) => {
    const transport = fakeTransport();
    const client = new HubClient(url, { WebSocket: transport.WebSocket });
    expect((await transport.next()).url).toBe(expected);
    await client.close();
  });

  it('resolves a relative URL against the page', async () => {
    const global = globalThis as { location?: unknown };
    global.location = { href: 'https://app.example/orders/7' };
    try {
      const transport = fakeTransport();
      const client = new HubClient('/api/v1/ws', { WebSocket: transport.WebSocket });
      expect((await transport.next()).url).toBe('wss://app.example/api/v1/ws');
      await client.close();
    } finally {
      delete global.location;
    }
  });
});
