/**
 * Scenario I (cross-node over one Redis and over Redis Cluster) runs end to
 * end with tiny N: the clusters start, every contender delivers, they stop.
 * Timings are never asserted.
 */
import { execFile, spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const RUN = fileURLToPath(new URL('../src/run.mjs', import.meta.url));
const hasRedis = ['redis-server', 'redis-cli'].every((p) => spawnSync(p, ['--version']).status === 0);

describe.skipIf(!hasRedis && !process.env.CI)('npm run bench -- --smoke --scenarios I', () => {
  let dir;
  let doc;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wshub-bench-i-'));
    await promisify(execFile)(process.execPath, [RUN, '--smoke', '--quiet', '--scenarios', 'I', '--out-dir', dir], {
      timeout: 150_000,
    });
    const json = (await readdir(dir)).filter((f) => f.endsWith('.json'));
    expect(json).toHaveLength(1);
    doc = JSON.parse(await readFile(join(dir, json[0]), 'utf8'));
  }, 160_000);

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('runs only scenario I, one Redis and clusters of 1 and 3 masters side by side', () => {
    expect(doc.scenarios.map((s) => s.id)).toEqual(['I']);
    const contenders = doc.scenarios[0].cases[0].metrics[0].results.map((r) => r.contender);
    expect(contenders).toEqual(expect.arrayContaining(['wshub-redis', 'wshub-redis-cluster1', 'wshub-redis-cluster3']));
  });

  it('every contender delivers every message, targeted and broadcast', () => {
    for (const m of doc.scenarios[0].cases[0].metrics) {
      for (const r of m.results) {
        for (const sample of r.samples) expect(sample.error, `${m.key} ${r.contender}`).toBeUndefined();
      }
    }
    // A load process near a full core is a caveat on the numbers, which a smoke run does not read
    // (a busy machine makes it so); every other warning is a fault.
    expect(doc.warnings.filter((w) => !w.endsWith('the load side may be the limit'))).toEqual([]);
  });
});
