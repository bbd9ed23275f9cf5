/**
 * bench/src/tracing-cost.mjs (the hub without @opentelemetry/api, with it
 * and no provider, with the SDK's context manager alone, with the SDK and
 * an exporter that drops everything, and the same SDK recording one trace
 * in ten)
 * runs end to end with tiny N. Timings are never asserted; what each setup
 * is, is: the API hidden or not, spans made only under the SDK.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const SCRIPT = fileURLToPath(new URL('../src/tracing-cost.mjs', import.meta.url));

describe('node bench/src/tracing-cost.mjs (tiny)', () => {
  it('runs the five setups and reports each', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [SCRIPT, '1', '500', '200', '20', '--json'], { timeout: 110_000 });
    const { summary } = JSON.parse(stdout.trim().split('\n').pop());
    expect(Object.keys(summary)).toEqual(['no-api', 'no-provider', 'context', 'sdk', 'sdk-10%']);
    expect(Object.values(summary).map((s) => s.api)).toEqual([false, true, true, true, true]);
    // No provider, no span: the context manager alone makes none.
    expect([summary['no-api'], summary['no-provider'], summary.context].map((s) => s.spansExported.median)).toEqual([0, 0, 0]);
    // 500 warm-up and measured calls, 200 sends, 20 authentications: each one span.
    expect(summary.sdk.spansExported.median).toBe(500 + 100 + 200 + 20);
    // One trace in ten recorded: about 82 of those 820 (never none, never most, at these counts).
    expect(summary['sdk-10%'].spansExported.median).toBeGreaterThan(20);
    expect(summary['sdk-10%'].spansExported.median).toBeLessThan(300);
    for (const setup of Object.values(summary)) {
      expect(setup.callNs.median).toBeGreaterThan(0);
      expect(setup.deliveriesPerSecond.median).toBeGreaterThan(0);
      // The hub process's CPU time per call and per delivery.
      expect(setup.callCpuNs.median).toBeGreaterThan(0);
      expect(setup.deliverCpuNs.median).toBeGreaterThan(0);
    }
  }, 120_000);
});
