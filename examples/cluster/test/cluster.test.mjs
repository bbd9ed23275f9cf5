// The cluster example as the root README runs it: a primary and its workers in
// real processes, real sockets, and the signals `docker stop` and a crash send.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { connectTestClient } from '@wshub/testing';
import { afterEach, describe, expect, it } from 'vitest';

const serverFile = new URL('../server.mjs', import.meta.url);
const started = [];

/** Starts server.mjs; `lines` collects what it prints, each with the time it arrived. */
function start(env, nodeArgs = []) {
  const child = spawn(process.execPath, [...nodeArgs, serverFile.pathname], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const run = { child, lines: [], exited: once(child, 'exit').then(([code]) => code) };
  for (const stream of [child.stdout, child.stderr]) {
    stream.setEncoding('utf8');
    stream.on('data', (chunk) => {
      for (const text of chunk.split('\n')) if (text) run.lines.push({ text, at: Date.now() });
    });
  }
  started.push(run);
  return run;
}

/** Resolves with the first line matching `pattern`, or rejects with all output after `timeoutMs`. */
async function lineMatching(run, pattern, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const line = run.lines.find(({ text }) => pattern.test(text));
    if (line) return line;
    if (Date.now() > deadline || run.child.exitCode !== null) {
      throw new Error(`no line matching ${pattern}:\n${run.lines.map(({ text }) => text).join('\n')}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** POST on a fresh connection, so the primary hands it to the next worker in turn. */
function post(port, path) {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'POST', agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        body += chunk;
      });
      res.on('end', () => resolve(JSON.parse(body)));
    });
    req.on('error', reject);
    req.end();
  });
}

afterEach(async () => {
  // The primary's group: a test that failed half-way must not leave workers behind.
  for (const { child } of started.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
  }
});

describe('two workers', () => {
  it('deliver a message sent on one worker to a socket on the other, and drain on SIGTERM', async () => {
    const run = start({ PORT: '0', WORKERS: '2' });
    // Printed once both workers listen, so the primary hands connections to them in turn.
    const port = Number((await lineMatching(run, /localhost:(\d+)/)).text.match(/localhost:(\d+)/)[1]);
    const alice = await connectTestClient(`ws://127.0.0.1:${port}/api/v1/ws`, { query: { token: 'alice-token' } });
    await alice.sync();

    // Round robin: one of the first few POSTs lands on the worker that does not hold alice's socket.
    let across;
    for (let i = 0; i < 10 && !across; i++) {
      const answer = await post(port, `/users/alice/messages?text=hi-${i}`);
      if (answer.socketsHere === 0) across = { ...answer, text: `hi-${i}` };
    }
    expect(across, 'no POST reached the other worker').toBeDefined();
    for (;;) {
      const { data } = await alice.next('message');
      if (data.text === across.text) {
        expect(data.sentBy).toBe(across.sentBy);
        break;
      }
    }

    run.child.kill('SIGTERM');
    expect(await alice.waitForClose()).toEqual({ code: 1001, reason: 'server shutting down' });
    expect(await run.exited).toBe(0);
  });
});

describe('a worker that cannot start', () => {
  it('is forked again after a pause that grows, and SIGTERM stops the primary while it waits', async () => {
    // listen() throws on this port in the worker, at every start. Workers inherit the primary's
    // --import, so each one says when it started.
    const started = `data:text/javascript,import cluster from 'node:cluster'; if (cluster.isWorker) console.log('worker started')`;
    const run = start({ PORT: 'not-a-port', WORKERS: '1' }, ['--import', started]);
    const at = (pattern) => run.lines.filter(({ text }) => pattern.test(text));
    const deadline = Date.now() + 20_000;
    while (at(/exited/).length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    const [first, second] = at(/exited/);
    expect([first.text, second.text]).toEqual([
      expect.stringMatching(/forking another in 1000 ms$/),
      expect.stringMatching(/forking another in 2000 ms$/),
    ]);
    // The second worker started a second after the first one died, not as soon as it could.
    expect(at(/worker started/)[1].at - first.at).toBeGreaterThanOrEqual(900);

    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
    expect(run.lines.filter(({ text }) => /exited/.test(text))).toHaveLength(2);
  });
});

describe('the READMEs', () => {
  it.each(['../../../README.md', '../../../packages/core/README.md'])('%s quotes this example as it is', (readme) => {
    const text = readFileSync(new URL(readme, import.meta.url), 'utf8');
    const quoted = text.includes(`\`\`\`js\n${readFileSync(serverFile, 'utf8')}\`\`\``);
    expect(quoted, `${readme} does not quote examples/cluster/server.mjs as it is`).toBe(true);
  });
});
