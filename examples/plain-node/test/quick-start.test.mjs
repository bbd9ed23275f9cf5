// The quick start of the root and core READMEs, run as their reader runs it: `node quick-start.mjs`
// in its own process, a client that watches, and the curl commands it names.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { connectTestClient } from '@wshub/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const file = new URL('../quick-start.mjs', import.meta.url);
let server;
let exited;
let output = '';
let base;

beforeAll(async () => {
  server = spawn(process.execPath, [file.pathname], { env: { ...process.env, PORT: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
  exited = once(server, 'exit').then(([code]) => code);
  server.stdout.setEncoding('utf8');
  server.stderr.setEncoding('utf8');
  server.stderr.on('data', (chunk) => {
    output += chunk;
  });
  const [line] = await once(server.stdout, 'data');
  output += line;
  base = `127.0.0.1:${line.match(/localhost:(\d+)/)[1]}`;
});

afterAll(() => {
  if (server.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
});

const post = (path) => fetch(`http://${base}${path}`, { method: 'POST' });

describe('quick-start.mjs', () => {
  it('refuses a wrong token with 4403', async () => {
    const stranger = await connectTestClient(`ws://${base}/api/v1/ws`, { query: { token: 'guess' } });
    expect(await stranger.waitForClose()).toEqual({ code: 4403, reason: 'unauthorized' });
  });

  it('answers a plain request instead of leaving it hanging', async () => {
    expect((await fetch(`http://${base}/`)).status).toBe(404);
  });

  it('delivers the order update and the announcement the curl commands trigger, and closes with 1001 on SIGTERM', async () => {
    const client = await connectTestClient(`ws://${base}/api/v1/ws`, { query: { token: 'secret' } });
    expect(await client.watch('order-status', '42')).toBe('allowed');

    expect((await post('/orders/42/shipped')).status).toBe(202);
    expect(await client.next('order-status')).toEqual({ event: 'order-status', data: { id: 42, status: 'shipped' } });
    expect((await post('/announcements')).status).toBe(202);
    expect(await client.next('server-update')).toEqual({ event: 'server-update', data: { version: '2.0.0' } });

    server.kill('SIGTERM');
    expect(await client.waitForClose()).toEqual({ code: 1001, reason: 'server shutting down' });
    expect(await exited, output).toBe(0);
  });
});

describe('the READMEs', () => {
  it.each(['../../../README.md', '../../../packages/core/README.md'])('%s quotes quick-start.mjs as it is', (readme) => {
    const text = readFileSync(new URL(readme, import.meta.url), 'utf8');
    const quoted = text.includes(`\`\`\`js\n${readFileSync(file, 'utf8')}\`\`\``);
    expect(quoted, `${readme} does not quote examples/plain-node/quick-start.mjs as it is`).toBe(true);
  });
});
