/**
 * The demo exactly as `npm start` runs it: the compiled app in its own
 * process (on PORT=0), its page, its HTTP endpoints and the hub.
 */
import { readFileSync } from 'node:fs';
import { Agent, get as httpGet } from 'node:http';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { connectTestClient, type TestClient } from '@wshub/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DemoProcess } from './demo-process.js';

let demo: DemoProcess;
let base: string;
const clients: TestClient[] = [];

beforeAll(async () => {
  demo = await DemoProcess.start();
  base = demo.base;
});

afterEach(() => Promise.all(clients.splice(0).map((client) => client.close())));

afterAll(() => demo?.stop());

async function login(token: string, device = 'test'): Promise<TestClient> {
  const client = await connectTestClient(`${base.replace('http', 'ws')}/api/v1/ws`, { query: { token, device } });
  clients.push(client);
  return client;
}

function post(path: string, body: unknown): Promise<Response> {
  return fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

describe('npm start', () => {
  it('prints the URL and how to try it', () => {
    expect(demo.output).toContain('pick a user');
    expect(demo.output).toMatch(/curl -X POST http:\/\/localhost:\d+\/orders\/42\/status/);
    expect(demo.output).toMatch(/ws:\/\/localhost:\d+\/api\/v1\/ws\?token=bob-token/);
  });

  it('serves the page, its script, and the page config', async () => {
    const html = await (await fetch(`${base}/`)).text();
    for (const testId of ['user-picker', 'connection-state', 'order-input', 'watch-button', 'notification-list']) {
      expect(html).toContain(`data-testid="${testId}"`);
    }
    const script = await fetch(`${base}/app.js`);
    expect(script.headers.get('content-type')).toContain('javascript');
    expect(await script.text()).toContain("import { HubClient } from '@wshub/client';");
    const config = (await (await fetch(`${base}/demo/config`)).json()) as { wsPath: string; accounts: Array<{ id: string }> };
    expect(config.wsPath).toBe('/api/v1/ws');
    expect(config.accounts.map((a) => a.id)).toEqual(['alice', 'bob', 'carol']);
  });

  it('serves @wshub/client as installed, where the page’s import map points', async () => {
    const html = await (await fetch(`${base}/`)).text();
    const importMap = /<script type="importmap">(.*?)<\/script>/s.exec(html)?.[1];
    const url = (JSON.parse(importMap ?? '{}') as { imports?: Record<string, string> }).imports?.['@wshub/client'];
    expect(url).toBe('/vendor/wshub-client/index.js');
    const bundle = await fetch(`${base}${url}`);
    expect(bundle.status).toBe(200);
    expect(bundle.headers.get('content-type')).toContain('javascript');
    const installed = readFileSync(fileURLToPath(import.meta.resolve('@wshub/client')), 'utf8');
    expect(await bundle.text()).toBe(installed);
  });
});

describe('watching an order and changing its status', () => {
  it('notifies the owner that watches it', async () => {
    const bob = await login('bob-token');
    expect(await bob.watch('order-status', '42')).toBe('allowed');
    const response = await post('/orders/42/status', { status: 'shipped' });
    expect(response.status).toBe(202);
    expect(await bob.next()).toEqual({ event: 'order-status', data: { orderId: 42, status: 'shipped' }, id: expect.any(String) });
  });

  it('refuses a user who watches someone else’s order', async () => {
    const carol = await login('carol-token');
    expect(await carol.watch('order-status', '42')).toBe('forbidden');
    expect(carol.messages).toEqual([]);
  });

  it('refuses it to a plain client too, with the reply @kovalenko/nestjs-websocket clients know', async () => {
    const carol = await connectTestClient(`${base.replace('http', 'ws')}/api/v1/ws`, {
      query: { token: 'carol-token', device: 'plain' },
      protocols: [],
    });
    clients.push(carol);
    carol.emit('watch', { event: 'order-status', payload: '42' });
    expect(await carol.next()).toEqual({ event: 'watch', data: { event: 'order-status', payload: '42', forbidden: true } });
  });

  it('lets an admin watch every order', async () => {
    const alice = await login('alice-token');
    expect(await alice.watch('order-status')).toBe('allowed');
    await post('/orders/7/status', { status: 'packed' });
    expect(await alice.next()).toEqual({ event: 'order-status', data: { orderId: 7, status: 'packed' }, id: expect.any(String) });
  });

  it('answers 404 for an unknown order and 400 for a bad status', async () => {
    expect((await post('/orders/999/status', { status: 'lost' })).status).toBe(404);
    expect((await post('/orders/42/status', { status: 5 })).status).toBe(400);
  });
});

describe('announcements', () => {
  it('reach everyone connected, or only admins', async () => {
    const alice = await login('alice-token');
    const bob = await login('bob-token');
    expect((await post('/announcements', { text: 'hello all' })).status).toBe(202);
    expect(await alice.next()).toEqual({ event: 'announcement', data: { text: 'hello all', adminsOnly: false } });
    expect(await bob.next()).toEqual({ event: 'announcement', data: { text: 'hello all', adminsOnly: false } });
    await post('/announcements', { text: 'admins only', adminsOnly: true });
    expect(await alice.next()).toEqual({ event: 'announcement', data: { text: 'admins only', adminsOnly: true } });
    await bob.sync(); // everything the hub wrote to bob before has arrived: he got the first one only
    expect(bob.messages).toEqual([{ event: 'announcement', data: { text: 'hello all', adminsOnly: false } }]);
  });
});

describe('ping', () => {
  it('is answered with a pong carrying its data (the page confirms its watches with it)', async () => {
    const bob = await login('bob-token');
    bob.emit('ping', { device: 'test', ping: 1 });
    expect(await bob.next()).toEqual({ event: 'pong', data: { device: 'test', ping: 1 } });
  });

  it('is answered on the requesting socket only, not on the user’s other sockets', async () => {
    const phone = await login('bob-token', 'phone');
    const laptop = await login('bob-token', 'laptop');
    phone.emit('ping', { device: 'phone', ping: 7 });
    expect(await phone.next()).toEqual({ event: 'pong', data: { device: 'phone', ping: 7 } });
    await laptop.sync();
    expect(laptop.messages).toEqual([]);
  });

  it('echoes only device and ping: large or deeply nested data is not written back, nor logged', async () => {
    const bob = await login('bob-token');
    const logged = demo.output.length;
    const deep = `${'['.repeat(20_000)}${']'.repeat(20_000)}`;
    bob.emit('ping', { device: 'x'.repeat(1000), ping: 2, extra: 'y'.repeat(30_000) });
    expect(await bob.next()).toEqual({ event: 'pong', data: { device: null, ping: 2 } });
    bob.sendText(`{"event":"ping","data":${deep}}`);
    expect(await bob.next()).toEqual({ event: 'pong', data: { device: null, ping: null } });
    expect(demo.output.slice(logged)).not.toMatch(/ERROR/);
  });
});

describe('demo auth', () => {
  it('refuses an unknown token with 4403', async () => {
    const stranger = await login('nope');
    expect((await stranger.waitForClose()).code).toBe(4403);
  });

  it.each(['constructor', '__proto__', 'toString', 'hasOwnProperty'])(
    'refuses a token named like an Object.prototype member (%s) with 4403, without an error in the log',
    async (token) => {
      const logged = demo.output.length;
      const stranger = await login(token);
      expect((await stranger.waitForClose()).code).toBe(4403);
      expect(demo.output.slice(logged)).not.toMatch(/ERROR/);
    },
  );
});

describe('stopping the demo', () => {
  it('closes clients with 1001 and exits 0 on SIGTERM', async () => {
    const bob = await login('bob-token');
    await bob.sync();
    const exited = demo.stop('SIGTERM');
    expect((await bob.waitForClose()).code).toBe(1001);
    expect(await exited, demo.output).toBe(0);
  });

  it('drains and exits 0 when Ctrl-C under npm start delivers SIGINT twice (from the terminal and from npm)', async () => {
    const own = await DemoProcess.start();
    // A socket that never answers the close frame keeps the hub draining for closeTimeoutMs (2 s).
    const mute = connect(own.port, '127.0.0.1');
    mute.on('error', () => {});
    mute.write(
      'GET /api/v1/ws?token=carol-token HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
    await new Promise((resolve) => mute.once('data', resolve));
    try {
      own.child.kill('SIGINT');
      await new Promise((resolve) => setTimeout(resolve, 300)); // handled, and still draining
      expect(own.child.exitCode).toBe(null);
      own.child.kill('SIGINT');
      expect(await own.exited, own.output).toBe(0);
    } finally {
      mute.destroy();
    }
  });

  it('exits on SIGTERM while a page keeps keep-alive HTTP connections busy (the live panel, token renewals)', async () => {
    const own = await DemoProcess.start();
    // Four keep-alive connections, each asking again as soon as it has its answer, as long as the demo runs:
    // whichever is busy when the server closes must not keep the process alive.
    const agent = new Agent({ keepAlive: true, maxSockets: 4 });
    let running = true;
    const ask = () =>
      new Promise<boolean>((resolve) => {
        const req = httpGet(`${own.base}/demo/activity`, { agent }, (res) => {
          res.resume();
          res.on('end', () => resolve(true));
        });
        req.on('error', () => resolve(false));
      });
    const pollers = Array.from({ length: 4 }, async () => {
      while (running && (await ask()));
    });
    await new Promise((resolve) => setTimeout(resolve, 300)); // the connections are open and busy
    const code = await Promise.race([own.stop('SIGTERM'), new Promise((resolve) => setTimeout(() => resolve('still running'), 10_000))]);
    running = false;
    agent.destroy();
    await Promise.all(pollers);
    if (code === 'still running') await own.stop('SIGKILL');
    expect(code, own.output).toBe(0);
  }, 60_000);
});
