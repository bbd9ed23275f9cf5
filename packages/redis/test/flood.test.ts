import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { connectTestClient } from '@wshub/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAST, waitUntil } from './hub-process.js';
import { RedisServer, redisSkipReason } from './redis-server.js';

/**
 * An app that sends flat out through Redis, in an `await` loop that never
 * yields to I/O. With recovery, `sendMessage` used to resolve before the
 * message was recorded, with nothing bounding the recordings in flight:
 * 157k × 1 KiB messages killed a 256 MB hub in 5.5 s. Without recovery,
 * every publish waited in ioredis for an answer nobody read: 150k × 1 KiB
 * killed a 128 MB hub in about a second. A hub in a child process with a
 * 128 MB heap runs an `await` loop of 150k sends of 1 KiB while a control
 * client keeps asking it for answers.
 */
const skip = redisSkipReason();
const script = fileURLToPath(new URL('./fixtures/flood-node.mjs', import.meta.url));
const HEAP_MB = 128;
const COUNT = 150_000;
const SIZE = 1024;
/** Sends in the one turn of the burst (each a promise the app holds). */
const BURST = 60_000;

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

type Progress = { sent: number; heapUsed: number; stats: Record<string, number> };

interface FloodRun<R> {
  /** What the fixture's method returned. */
  result: R;
  sent: number;
  stats: Record<string, number>;
  floodMs: number;
  maxHeap: number;
  answers: number;
  maxAnswerMs: number;
  errors: string[];
}

/**
 * Starts a hub process, runs `method` (the fixture's `flood`: an await loop;
 * `burst`: every send in one turn, none awaited) while a control client is
 * served, and waits for `settled` (every message answered by Redis).
 */
async function flood<R = number>(
  redisUrl: string,
  env: Record<string, string>,
  settled: (p: Progress) => boolean,
  { method = 'flood', count = COUNT, broker = {} }: { method?: 'flood' | 'burst'; count?: number; broker?: Record<string, unknown> } = {},
): Promise<FloodRun<R>> {
  const child = fork(script, [], {
    execArgv: [`--max-old-space-size=${HEAP_MB}`],
    env: {
      ...process.env,
      ...env,
      WSHUB_BROKER_OPTIONS: JSON.stringify({ ...FAST, url: redisUrl, commandTimeoutMs: 5000, prefix: env.PREFIX, ...broker }),
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const node = new FloodNode(child);
  try {
    const [ready] = (await once(child, 'message')) as [{ type: string; port: number }];
    expect(ready.type).toBe('ready');
    const control = await connectTestClient(`ws://127.0.0.1:${ready.port}/api/v1/ws?user=control`);
    await control.sync();

    const started = Date.now();
    const flooding = node.call<R>(method, count, SIZE);
    let done = false;
    flooding.then(
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
      const { heapUsed } = await node.call<Progress>('progress');
      maxHeap = Math.max(maxHeap, heapUsed);
      await new Promise((r) => setTimeout(r, 100));
    }
    const result = await flooding;
    const floodMs = Date.now() - started;
    // The last awaited sends resolved once admitted, before Redis answered them.
    await waitUntil(async () => settled(await node.call<Progress>('progress')), 'every message answered by Redis');
    const { sent, stats } = await node.call<Progress>('progress');
    const errors = await node.call<string[]>('errors');
    await control.close();
    return { result, sent, stats, floodMs, maxHeap, answers, maxAnswerMs, errors };
  } finally {
    if (!node.exit) {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
  }
}

function describeRun(what: string, run: FloodRun<unknown>, extra: string): string {
  const { sent, floodMs, maxHeap, answers, maxAnswerMs } = run;
  return `${what}: ${sent} sends of ${SIZE} B in ${floodMs} ms (${Math.round(sent / (floodMs / 1000))}/s) in a ${HEAP_MB} MB heap; heap at most ${Math.round(maxHeap / 2 ** 20)} MB; control client answered ${answers} times, slowest ${maxAnswerMs} ms; ${extra}`;
}

describe.skipIf(skip)(skip ?? 'sending flat out through Redis is bounded (hostile: an app that sends faster than Redis answers)', () => {
  let redis: RedisServer;

  beforeAll(async () => {
    redis = await RedisServer.start();
  });

  afterAll(async () => {
    await redis?.kill();
  });

  it(`recovery on, an await loop of ${COUNT / 1000}k × 1 KiB sends: the ${HEAP_MB} MB process lives, its heap stays bounded, a control client is served`, { timeout: 120_000 }, async () => {
    const run = await flood(redis.url, { PREFIX: 'recorded' }, ({ stats }) => stats.recorded! + stats.recordFailed! >= COUNT);
    const { stats } = run;
    report(describeRun('recording flood', run, `recorded ${stats.recorded}, failed ${stats.recordFailed}`));
    expect(run.sent).toBe(COUNT);
    expect(stats.recorded).toBe(COUNT);
    expect(run.maxHeap).toBeLessThan(80 * 2 ** 20);
    expect(run.answers).toBeGreaterThan(5);
    expect(run.maxAnswerMs).toBeLessThan(3000);
    expect(run.errors).toEqual([]);
  });

  it(`recovery off, an await loop of ${COUNT / 1000}k × 1 KiB sends: the ${HEAP_MB} MB process lives, its heap stays bounded, every publish reaches Redis in order`, { timeout: 120_000 }, async () => {
    // Another node's view: a subscriber of the user's channel counts what Redis delivered.
    const subscriber = new Redis(redis.url);
    let received = 0;
    let outOfOrder = 0;
    subscriber.on('message', (_channel: string, text: string) => {
      const i = Number(/#(\d+)#/.exec(text)?.[1]);
      if (i !== received) outOfOrder++;
      received++;
    });
    await subscriber.subscribe('published:user:nobody');
    try {
      const run = await flood(redis.url, { PREFIX: 'published', WSHUB_RECOVERY: 'off' }, ({ stats }) => stats.publishPendingBytes === 0);
      await waitUntil(() => received >= COUNT, 'every publish to reach the subscriber');
      const { stats } = run;
      report(describeRun('publish flood', run, `published ${stats.published}, waited ${stats.publishWaits} times, received ${received}`));
      expect(run.sent).toBe(COUNT);
      expect(stats.published).toBe(COUNT);
      expect(stats.publishFailed).toBe(0);
      expect(stats.publishRefused).toBe(0);
      // The bound was reached and held the loop (without it, this process ran out of memory).
      expect(stats.publishWaits).toBeGreaterThan(0);
      expect(received).toBe(COUNT);
      expect(outOfOrder).toBe(0);
      expect(run.maxHeap).toBeLessThan(80 * 2 ** 20);
      expect(run.answers).toBeGreaterThan(2);
      expect(run.maxAnswerMs).toBeLessThan(3000);
      expect(run.errors).toEqual([]);
    } finally {
      subscriber.disconnect();
    }
  });

  /**
   * Sends that are not awaited: every one is a promise the app holds (about
   * half a kilobyte each, with any broker), and each one past the limit is
   * refused. A refusal must cost no more than that promise: before, each
   * RangeError kept a stack whose frames held the refused call's data, and
   * 150k refusals ran this process out of memory. With recovery, the
   * recordings queued and in flight count against the same limit: before,
   * they queued without bound.
   */
  it.each([
    { recovery: 'off', prefix: 'burst' },
    { recovery: 'on', prefix: 'burst-recorded' },
  ])(`recovery $recovery, ${BURST / 1000}k × 1 KiB sends in one turn, none awaited: refused past maxQueuedBytes, the ${HEAP_MB} MB process lives, what was taken reaches Redis in order`, { timeout: 120_000 }, async ({ recovery, prefix }) => {
    const subscriber = new Redis(redis.url);
    const seen: number[] = [];
    // A recorded message is published with its offset before the frame; the number is in the frame either way.
    subscriber.on('message', (_channel: string, text: string) => seen.push(Number(/#(\d+)#/.exec(text)?.[1])));
    await subscriber.subscribe(`${prefix}:user:nobody`);
    try {
      const recorded = recovery === 'on';
      const run = await flood<{ refused: number; other: string[] }>(
        redis.url,
        { PREFIX: prefix, ...(recorded ? {} : { WSHUB_RECOVERY: 'off' }) },
        ({ sent, stats }) => (recorded ? stats.recorded! + stats.recordFailed! >= sent : stats.publishPendingBytes === 0),
        { method: 'burst', count: BURST, broker: { maxQueuedBytes: 4 * 2 ** 20, recordMaxInFlightBytes: 2 * 2 ** 20 } },
      );
      const { stats, result } = run;
      await waitUntil(() => seen.length >= run.sent, 'every accepted message to reach the subscriber');
      report(describeRun(`unawaited burst, recovery ${recovery}`, run, `taken ${run.sent}, refused ${result.refused}`));
      expect(result.other).toEqual([]);
      expect(result.refused).toBeGreaterThan(BURST / 2);
      expect(run.sent + result.refused).toBe(BURST);
      expect(stats.publishRefused).toBe(result.refused);
      expect(recorded ? stats.recorded : stats.published).toBe(run.sent);
      // The first ones are taken, in order, up to the limit; none of the refused reaches anyone.
      expect(seen).toEqual([...Array(run.sent).keys()]);
      expect(run.maxHeap).toBeLessThan(100 * 2 ** 20);
      expect(run.errors).toEqual([]);
    } finally {
      subscriber.disconnect();
    }
  });
});
