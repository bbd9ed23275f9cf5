import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { connectTestClient } from '@wshub/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAST, waitUntil } from './hub-process.js';
import { RedisServer, redisSkipReason } from './redis-server.js';

/**
 * Recovery on Redis, an app that sends flat out: `sendMessage` used to
 * resolve before the message was recorded, with nothing bounding the
 * recordings in flight, and 157k × 1 KiB messages killed a 256 MB hub in
 * 5.5 s. A hub in a child process with a 128 MB heap runs an `await` loop of
 * 150k sends of 1 KiB while a control client keeps asking it for answers.
 */
const skip = redisSkipReason();
const script = fileURLToPath(new URL('./fixtures/flood-node.mjs', import.meta.url));
const HEAP_MB = 128;
const COUNT = 150_000;
const SIZE = 1024;

const report = (line: string) => process.stdout.write(`${line}\n`);

class FloodNode {
  private seq = 0;
  private readonly pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  exit: string | undefined;

  constructor(readonly child: ChildProcess) {
    child.on('message', (m: { id?: number; ok?: boolean; result?: unknown; error?: string }) => {
      const call = m.id === undefined ? undefined : this.pending.get(m.id);
      if (!call) return;
      this.pending.delete(m.id!);
      if (m.ok) call.resolve(m.result);
      else call.reject(new Error(m.error));
    });
    child.on('exit', (code, signal) => {
      this.exit = `exited (${code ?? signal})`;
      for (const call of this.pending.values()) call.reject(new Error(`the hub process ${this.exit}`));
      this.pending.clear();
    });
  }

  call<T>(method: string, ...args: unknown[]): Promise<T> {
    if (this.exit) return Promise.reject(new Error(`the hub process ${this.exit}`));
    const id = ++this.seq;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.child.send({ id, method, args });
    });
  }
}

describe.skipIf(skip)(skip ?? 'recording on Redis is bounded (hostile: an app sending flat out)', () => {
  let redis: RedisServer;

  beforeAll(async () => {
    redis = await RedisServer.start();
  });

  afterAll(async () => {
    await redis?.kill();
  });

  it(`an await loop of ${COUNT / 1000}k × 1 KiB sends: the ${HEAP_MB} MB process lives, its heap stays bounded, a control client is served`, { timeout: 120_000 }, async () => {
    const child = fork(script, [], {
      execArgv: [`--max-old-space-size=${HEAP_MB}`],
      env: { ...process.env, WSHUB_BROKER_OPTIONS: JSON.stringify({ ...FAST, url: redis.url, commandTimeoutMs: 5000 }) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const node = new FloodNode(child);
    try {
      const [ready] = (await once(child, 'message')) as [{ type: string; port: number }];
      expect(ready.type).toBe('ready');
      const control = await connectTestClient(`ws://127.0.0.1:${ready.port}/api/v1/ws?user=control`);
      await control.sync();

      const flood = node.call<number>('flood', COUNT, SIZE);
      let done = false;
      flood.then(
        () => {
          done = true;
        },
        () => {
          done = true;
        },
      );
      let maxHeap = 0;
      let maxAnswerMs = 0;
      let answers = 0;
      for (let i = 0; !done; i++) {
        const asked = Date.now();
        // Answered by the hub itself: its event loop, not Redis.
        await control.watch('ticker', i, { timeout: 10_000 });
        maxAnswerMs = Math.max(maxAnswerMs, Date.now() - asked);
        answers++;
        const { heapUsed } = await node.call<{ heapUsed: number }>('progress');
        maxHeap = Math.max(maxHeap, heapUsed);
        await new Promise((r) => setTimeout(r, 100));
      }
      const floodMs = await flood;
      type Progress = { sent: number; stats: Record<string, number> };
      // The last awaited sends resolved once admitted, before Redis answered their recordings.
      await waitUntil(async () => {
        const { stats } = await node.call<Progress>('progress');
        return stats.recorded! + stats.recordFailed! >= COUNT;
      }, 'every recording answered');
      const { sent, stats } = await node.call<Progress>('progress');
      report(
        `recording flood: ${sent} sends of ${SIZE} B in ${floodMs} ms (${Math.round(sent / (floodMs / 1000))}/s) in a ${HEAP_MB} MB heap; heap at most ${Math.round(maxHeap / 2 ** 20)} MB; control client answered ${answers} times, slowest ${maxAnswerMs} ms; recorded ${stats.recorded}, failed ${stats.recordFailed}`,
      );
      expect(sent).toBe(COUNT);
      expect(stats.recorded).toBe(COUNT);
      expect(maxHeap).toBeLessThan(80 * 2 ** 20);
      expect(answers).toBeGreaterThan(5);
      expect(maxAnswerMs).toBeLessThan(3000);
      expect(await node.call<string[]>('errors')).toEqual([]);
      await control.close();
    } finally {
      if (!node.exit) {
        child.kill('SIGKILL');
        await once(child, 'exit');
      }
    }
  });
});
