/**
 * A private redis-server for scenario F on a free 127.0.0.1 port, so the
 * bench neither disturbs nor is disturbed by other users of the shared one.
 * No persistence; no pub/sub output-buffer limit (an unthrottled round may
 * queue more than the default 8 MB for a subscriber).
 */
import { spawn } from 'node:child_process';
import { createConnection, createServer } from 'node:net';
import { sleep } from './clock.mjs';

export async function startRedis() {
  const port = await freePort();
  const proc = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--client-output-buffer-limit', 'pubsub 0 0 0'],
    { stdio: 'ignore' },
  );
  const failed = new Promise((_, reject) => proc.once('error', reject));
  failed.catch(() => {});
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    if (await Promise.race([ping(port), failed])) {
      return {
        url: `redis://127.0.0.1:${port}`,
        stop: () => {
          proc.kill('SIGKILL');
        },
      };
    }
    await sleep(50);
  }
  proc.kill('SIGKILL');
  throw new Error(`redis-server did not answer on port ${port}`);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Whether a Redis server answers PING on `port`. */
export function ping(port, host = '127.0.0.1') {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => done(data.toString().startsWith('+PONG')));
  });
}
