import { once } from 'node:events';
import { createServer, request as httpRequest } from 'node:http';
import { type AddressInfo, connect as netConnect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { WsHub } from '../src/index.js';
import { type Fixture, startHub, type User, userFromRequest, waitFor } from './helpers.js';

let f: Fixture | undefined;
afterEach(async () => {
  await f?.close();
  f = undefined;
});

function upgradeStatus(url: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.on('open', () => {
      resolve(101);
      ws.terminate();
    });
    ws.on('error', (e) => {
      if (!/Unexpected server response/.test(e.message)) reject(e);
    });
  });
}

describe('origins: exact match against allowedOrigins', () => {
  it.each([
    ['the listed origin', 'https://app.example', 101],
    ['a suffix trick', 'https://app.example.evil.net', 403],
    ['a prefix trick', 'https://evil-app.example', 403],
    ['another scheme', 'http://app.example', 403],
  ])('array form: %s', async (_name, origin, status) => {
    f = await startHub({ allowedOrigins: ['https://app.example'] });
    expect(await upgradeStatus(`${f.url}?user=u1`, { Origin: origin })).toBe(status);
  });

  it('array form: a request without Origin (not a browser) is allowed', async () => {
    f = await startHub({ allowedOrigins: ['https://app.example'] });
    expect(await upgradeStatus(`${f.url}?user=u1`)).toBe(101);
  });

  it('function form receives undefined for a missing Origin and decides', async () => {
    const seen: Array<string | undefined> = [];
    f = await startHub({ allowedOrigins: (o) => { seen.push(o); return o === 'https://ok.example'; } });
    expect(await upgradeStatus(`${f.url}?user=u1`)).toBe(403);
    expect(await upgradeStatus(`${f.url}?user=u1`, { Origin: 'https://ok.example' })).toBe(101);
    expect(seen).toEqual([undefined, 'https://ok.example']);
  });

  it('a throwing function refuses and reports the error', async () => {
    f = await startHub({ allowedOrigins: () => { throw new Error('boom'); } });
    const error = waitFor<Error>(f.hub, 'error');
    expect(await upgradeStatus(`${f.url}?user=u1`, { Origin: 'https://x' })).toBe(403);
    expect((await error).message).toContain('boom');
  });
});

describe('attach(server) serves only its path', () => {
  it('refuses other paths with 400 when no other upgrade listener exists', async () => {
    f = await startHub();
    const base = f.url.replace('/api/v1/ws', '');
    expect(await upgradeStatus(`${base}/elsewhere`)).toBe(400);
    expect(await upgradeStatus(`${f.url}?user=u1`)).toBe(101);
  });

  it('coexists with a ws server on another path created with { server, path }', async () => {
    f = await startHub();
    const other = new WebSocketServer({ server: f.server, path: '/other' });
    other.on('connection', (ws) => ws.send('hello from other'));
    const base = f.url.replace('/api/v1/ws', '');
    const ws = new WebSocket(`${base}/other`);
    const [data] = await once(ws, 'message');
    expect(String(data)).toBe('hello from other');
    ws.close();
    // The hub's path still works although that server aborts paths it does not know.
    const client = await f.ready('user=u1');
    await f.hub.sendMessage('u1', 'e', 1);
    expect(await client.next()).toEqual({ event: 'e', data: 1 });
    other.close();
  });

  it('leaves plain HTTP requests to the server', async () => {
    f = await startHub();
    const { port } = f.server.address() as AddressInfo;
    const status = await new Promise<number>((resolve) => {
      httpRequest({ host: '127.0.0.1', port, path: '/api/v1/ws' }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      }).end();
    });
    expect(status).toBe(404);
  });

  it('handleUpgrade serves callers that route upgrades themselves', async () => {
    const hub = new WsHub<User>({ authenticate: userFromRequest, path: '/custom' });
    const server = createServer();
    server.on('upgrade', (req, socket, head) => {
      if (hub.owns(req)) hub.handleUpgrade(req, socket, head);
      else socket.destroy();
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    const ready = waitFor(hub as never, 'ready');
    const ws = new WebSocket(`ws://127.0.0.1:${port}/custom?user=u1`);
    await ready;
    const got = once(ws, 'message');
    await hub.sendMessage('u1', 'e', 1);
    expect(JSON.parse(String((await got)[0]))).toEqual({ event: 'e', data: 1 });
    ws.terminate();
    await hub.close();
    server.close();
  });
});

describe('heartbeat', () => {
  it('terminates a socket that did not answer the previous ping; one that answers stays', async () => {
    f = await startHub({ heartbeatMs: 50 });
    const good = await f.ready('user=good');
    const readySilent = waitFor(f.hub, 'ready');
    const silent = new WebSocket(`${f.url}?user=silent`, { autoPong: false });
    silent.on('error', () => {});
    await readySilent;
    const d = waitFor<{ userId: string; code: number }>(f.hub, 'disconnected');
    expect(await d).toMatchObject({ userId: 'silent', code: 1006 });
    expect(good.closed).toBeUndefined();
    expect(f.hub.connectedUsers()).toEqual(['good']);
    silent.terminate();
  });

  it('holds no closure per socket: every socket shares its message, pong and close listeners', async () => {
    f = await startHub({ heartbeatMs: 50 });
    await f.ready('user=a');
    await f.ready('user=b');
    const [a] = f.hub.socketsOf('a');
    const [b] = f.hub.socketsOf('b');
    for (const event of ['message', 'pong', 'close']) {
      expect(a!.listeners(event)).toHaveLength(1);
      expect(a!.listeners(event)).toEqual(b!.listeners(event));
    }
  });

  it('also terminates sockets still waiting for authenticate', async () => {
    f = await startHub({ heartbeatMs: 50, authTimeoutMs: 60_000, authenticate: () => new Promise<User>(() => {}) });
    const connected = waitFor(f.hub, 'connected');
    const silent = new WebSocket(`${f.url}?user=silent`, { autoPong: false });
    silent.on('error', () => {});
    await connected;
    const d = waitFor<{ authorized: boolean }>(f.hub, 'disconnected');
    expect(await d).toMatchObject({ authorized: false });
    silent.terminate();
  });
});

describe('close()', () => {
  it('closes every socket with 1001, is idempotent, and refuses new upgrades', async () => {
    f = await startHub();
    const a = await f.ready('user=u1');
    const b = await f.ready('user=u2');
    const first = f.hub.close();
    const second = f.hub.close();
    expect(second).toBe(first);
    await first;
    expect((await a.waitForClose()).code).toBe(1001);
    expect((await b.waitForClose()).code).toBe(1001);
    expect(f.hub.stats().connections).toBe(0);
    expect(await upgradeStatus(`${f.url}?user=u3`)).not.toBe(101);
  });
});

describe('hostile handshakes', () => {
  it('a TCP reset while authenticate is pending does not crash; the late result is discarded', async () => {
    let settle: ((u: User) => void) | undefined;
    f = await startHub({
      authenticate: (req) =>
        req.url?.includes('user=u1') ? new Promise<User>((r) => { settle = r; }) : userFromRequest(req),
    });
    const connected = waitFor(f.hub, 'connected');
    const disconnected = waitFor<{ authorized: boolean }>(f.hub, 'disconnected');
    const client = f.connect('user=u1');
    await client.opened;
    await connected;
    (client.ws as unknown as { _socket: { resetAndDestroy(): void } })._socket.resetAndDestroy();
    expect(await disconnected).toMatchObject({ authorized: false });
    settle?.({ id: 'u1', deviceFingerprint: 'd' });
    await new Promise((r) => setImmediate(r));
    expect(f.hub.connectedUsers()).toEqual([]);
    const ok = await f.ready('user=u2');
    expect(ok.ws.readyState).toBe(1);
  });

  it('a reset in the middle of the HTTP upgrade does not crash', async () => {
    f = await startHub();
    const { port } = f.server.address() as AddressInfo;
    const sock = netConnect(port, '127.0.0.1');
    await once(sock, 'connect');
    sock.write(`GET /api/v1/ws?user=u1 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n`);
    sock.resetAndDestroy();
    const ok = await f.ready('user=u2');
    expect(ok.ws.readyState).toBe(1);
  });

  it('more than 2000 request headers do not crash the server', async () => {
    f = await startHub();
    const { port } = f.server.address() as AddressInfo;
    const sock = netConnect(port, '127.0.0.1');
    await once(sock, 'connect');
    sock.on('error', () => {});
    const extra = Array.from({ length: 2100 }, (_, i) => `x${i}: 1\r\n`).join('');
    sock.write(
      `GET /api/v1/ws?user=u1 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`,
    );
    await new Promise((resolve) => {
      sock.on('close', resolve);
      sock.on('data', () => sock.destroy());
      setTimeout(() => sock.destroy(), 2000).unref();
    });
    const ok = await f.ready('user=u2');
    expect(ok.ws.readyState).toBe(1);
  });

  it('never echoes a token offered in Sec-WebSocket-Protocol; selects "wshub" when offered', async () => {
    f = await startHub();
    const { port } = f.server.address() as AddressInfo;
    const offer = (protocols: string) =>
      new Promise<string | undefined>((resolve, reject) => {
        const req = httpRequest({
          host: '127.0.0.1',
          port,
          path: '/api/v1/ws?user=u1',
          headers: {
            Connection: 'Upgrade',
            Upgrade: 'websocket',
            'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
            'Sec-WebSocket-Version': '13',
            'Sec-WebSocket-Protocol': protocols,
          },
        });
        req.on('upgrade', (res, socket) => {
          socket.destroy();
          resolve(res.headers['sec-websocket-protocol'] as string | undefined);
        });
        req.on('error', reject);
        req.end();
      });
    expect(await offer('secret-token')).toBeUndefined();
    expect(await offer('secret-token, wshub')).toBe('wshub');
    const client = f.connect('user=u2', { protocols: ['wshub', 'secret-token'] });
    await client.opened;
    expect(client.ws.protocol).toBe('wshub');
  });

  it('a flood of upgrades that never authenticate stays bounded by the auth timeout', async () => {
    // Long enough that all 100 are open and pending at once on a loaded machine, before the first times out.
    f = await startHub({ authTimeoutMs: 1500, authenticate: () => new Promise<User>(() => {}) });
    const clients = Array.from({ length: 100 }, (_, i) => f!.connect(`user=u${i}`));
    await Promise.all(clients.map((c) => c.opened));
    expect(f.hub.stats().pending).toBe(100);
    const closes = await Promise.all(clients.map((c) => c.waitForClose()));
    expect(new Set(closes.map((c) => c.code))).toEqual(new Set([4408]));
    await expect.poll(() => f!.hub.stats()).toMatchObject({ connections: 0, pending: 0, authTimeouts: 100 });
  });
});

describe("notifications: 'presence' on a single node", () => {
  let f: Fixture | undefined;
  afterEach(async () => {
    await f?.close();
    f = undefined;
  });

  it('fires online for the first socket of a user and offline after the last one', async () => {
    f = await startHub();
    const seen: string[] = [];
    f.hub.on('presence', ({ userId, online }) => seen.push(`${userId}:${online}`));
    const phone = await f.ready('user=alice&device=phone');
    await f.ready('user=alice&device=laptop');
    expect(seen).toEqual(['alice:true']);
    const gone = waitFor(f.hub, 'disconnected');
    phone.ws.close();
    await gone;
    expect(seen).toEqual(['alice:true']);
    const all = waitFor(f.hub, 'disconnected');
    await f.hub.disconnect('alice');
    await all;
    expect(seen).toEqual(['alice:true', 'alice:false']);
  });
});

describe('notifications: each handler is called on its own', () => {
  let f: Fixture | undefined;
  afterEach(async () => {
    await f?.close();
    f = undefined;
  });

  it('a throwing handler is reported through error and the next handler still runs', async () => {
    f = await startHub();
    const seen: string[] = [];
    const errors: string[] = [];
    f.hub.on('error', (e) => errors.push(e.source));
    f.hub.on('ready', () => {
      throw new Error('first handler fails');
    });
    f.hub.on('ready', ({ user }) => seen.push(user.id));
    await f.ready('user=alice');
    expect(seen).toEqual(['alice']);
    expect(errors).toEqual(["'ready' handler"]);
  });

  it('an async handler that rejects is reported through error, as one that throws', async () => {
    f = await startHub();
    const reported = new Promise<string>((resolve) => f!.hub.on('error', (e) => resolve(`${e.source}: ${e.message}`)));
    f.hub.on('ready', async () => {
      throw new Error('the audit log is down');
    });
    await f.ready('user=alice');
    expect(await reported).toMatch(/^'ready' handler: .*the audit log is down/);
  });

  it('a handler that removes itself does not make the next one skip', async () => {
    f = await startHub();
    const seen: string[] = [];
    const once = () => {
      seen.push('once');
      f!.hub.off('ready', once);
    };
    f.hub.on('ready', once);
    f.hub.on('ready', () => seen.push('always'));
    await f.ready('user=alice');
    expect(seen).toEqual(['once', 'always']);
  });
});

describe('options are validated at once', () => {
  it.each([
    [{}, /"authenticate" must be a function/],
    [{ authenticate: (): null => null, path: 'no-slash' }, /"path" must be a string starting with "\/"/],
    [{ authenticate: (): null => null, authTimeoutMs: 0 }, /"authTimeoutMs" must be a positive integer, got 0/],
    [{ authenticate: (): null => null, limits: { maxPayload: -1 } }, /"limits.maxPayload" must be a positive integer, got -1/],
    [{ authenticate: (): null => null, canWatch: 'yes' }, /"canWatch" must be a function/],
    [{ authenticate: (): null => null, allowedOrigins: 'https://x' }, /"allowedOrigins" must be an array of strings or a function/],
    [{ authenticate: (): null => null, pushTimeoutMs: 1.5 }, /"pushTimeoutMs" must be a positive integer, got 1.5/],
    [{ authenticate: (): null => null, closeTimeoutMs: -1 }, /"closeTimeoutMs" must be a positive integer, got -1/],
    [{ authenticate: (): null => null, limits: { maxFragment: 4 } }, /unknown option "limits.maxFragment"; the limits are maxPayload, maxFragments, /],
    [{ authenticate: (): null => null, limits: { maxPendingSockets: 0 } }, /"limits.maxPendingSockets" must be a positive integer, got 0/],
    [{ authenticate: (): null => null, limits: 5 }, /"limits" must be an object, got 5/],
  ])('%j', (options, message) => {
    expect(() => new WsHub(options as never)).toThrow(TypeError);
    expect(() => new WsHub(options as never)).toThrow(message);
  });
});
