/**
 * The harness runs end to end with tiny N and writes a well-formed result.
 * Timings are never asserted: this proves the benchmark works, not how
 * fast anything is.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const RUN = fileURLToPath(new URL('../src/run.mjs', import.meta.url));

describe('npm run bench -- --smoke', () => {
  let dir;
  let doc;
  let markdown;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wshub-bench-'));
    await promisify(execFile)(process.execPath, [RUN, '--smoke', '--quiet', '--out-dir', dir], { timeout: 300_000 });
    const json = (await readdir(dir)).filter((f) => f.endsWith('.json'));
    expect(json).toHaveLength(1);
    doc = JSON.parse(await readFile(join(dir, json[0]), 'utf8'));
    markdown = await readFile(join(dir, 'latest.md'), 'utf8');
  }, 310_000);

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('describes the run and the machine', () => {
    expect(doc).toMatchObject({ schema: 'wshub-bench/1', profile: 'smoke', reps: 1 });
    expect(doc.machine).toMatchObject({ cpus: expect.any(Number), node: process.version });
    expect(doc.message.bytes).toBeGreaterThan(150);
    expect(Array.isArray(doc.warnings)).toBe(true);
    expect(Array.isArray(doc.targets)).toBe(true);
  });

  it('lists every contender, with a reason for those not measured', () => {
    const ids = doc.contenders.map((c) => c.id);
    const expected = [
      'naive',
      'ws-once',
      'ws-frame',
      'ws-coalesced',
      'ws-idle',
      'socketio',
      'wshub',
      'wshub-workers',
      'wshub-nest',
      'wshub-nest-plain',
      'wshub-redis',
      'wshub-traced',
      'wshub-traced-10',
    ];
    expect(ids).toEqual(expect.arrayContaining(expected));
    for (const c of doc.contenders) {
      if (!c.available) expect(c.reason).toEqual(expect.any(String));
    }
  });

  it('runs scenarios A to H', () => {
    expect(doc.scenarios.map((s) => s.id)).toEqual(['A', 'B', 'C', 'D', 'E', 'F', 'G', 'H']);
  });

  it('G and H reach every client, with node:cluster workers in H', () => {
    for (const id of ['G', 'H']) {
      const s = doc.scenarios.find((x) => x.id === id);
      for (const c of s.cases) {
        for (const m of c.metrics) {
          for (const r of m.results) {
            for (const sample of r.samples) expect(sample.error, `${id} ${m.key} ${r.contender}`).toBeUndefined();
          }
        }
      }
    }
    expect(doc.scenarios.find((x) => x.id === 'H').cases[0].metrics[0].results.map((r) => r.contender)).toEqual([
      'wshub-workers',
      'ws-idle',
    ]);
  });

  it('runs A and B with the OpenTelemetry SDK set up (the tracing contenders deliver)', () => {
    for (const id of ['A', 'B']) {
      const results = doc.scenarios.find((x) => x.id === id).cases.flatMap((c) => c.metrics.flatMap((m) => m.results));
      for (const contender of ['wshub-traced', 'wshub-traced-10']) {
        const mine = results.filter((r) => r.contender === contender);
        expect(mine.length, `${id} ${contender}`).toBeGreaterThan(0);
        for (const r of mine) for (const sample of r.samples) expect(sample.error, `${id} ${contender}`).toBeUndefined();
      }
    }
  });

  it('gives every metric one sample per repetition and a summary with ratios', () => {
    for (const s of doc.scenarios) {
      if (s.skipped) {
        // Only the cluster scenario may be skipped, when no redis-server exists.
        expect(s.id).toBe('F');
        continue;
      }
      expect(s.cases.length).toBeGreaterThan(0);
      for (const c of s.cases) {
        for (const m of c.metrics) {
          expect(['higher', 'lower']).toContain(m.better);
          expect(m.results.length).toBeGreaterThan(0);
          for (const r of m.results) {
            expect(r.samples).toHaveLength(s.reps ?? doc.reps);
            for (const sample of r.samples) {
              if (sample.value === null) expect(sample.error).toEqual(expect.any(String));
              else expect(Number.isFinite(sample.value)).toBe(true);
            }
            expect(Object.keys(r.ratios).sort()).toEqual([...s.baselines].sort());
          }
          // The harness delivered something: at least one contender has a result.
          expect(m.results.some((r) => typeof r.median === 'number')).toBe(true);
        }
      }
    }
  });

  it('writes the markdown table', () => {
    for (const id of ['A', 'B', 'C', 'D', 'E', 'F', 'G', 'H']) expect(markdown).toContain(`## ${id}. `);
    expect(markdown).toMatch(/\| contender \| median \[min–max\] \|/);
  });
});
