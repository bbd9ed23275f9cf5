import { execFile } from 'node:child_process';
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { checkLayers } from '../scripts/check-layers.mjs';

const src = fileURLToPath(new URL('../src', import.meta.url));
const script = fileURLToPath(new URL('../scripts/check-layers.mjs', import.meta.url));
const run = promisify(execFile);

describe('the layer rule of src', () => {
  let copy: string | undefined;
  afterEach(() => {
    if (copy) rmSync(copy, { recursive: true, force: true });
    copy = undefined;
  });

  /** A copy of src to break on purpose. */
  function copyOfSrc(): string {
    copy = mkdtempSync(path.join(tmpdir(), 'wshub-layers-'));
    cpSync(src, copy, { recursive: true });
    return copy;
  }

  it('holds for the code as it is', () => {
    expect(checkLayers(src)).toEqual([]);
  });

  it('names a lower layer that imports a higher one, type-only imports included', () => {
    const dir = copyOfSrc();
    appendFileSync(path.join(dir, 'protocol/errors.ts'), "\nimport type { Hub } from '../hub/hub.js';\n");
    appendFileSync(path.join(dir, 'session/socket-session.ts'), "\nexport { Delivery } from '../hub/delivery.js';\n");
    expect(checkLayers(dir)).toEqual([
      'protocol/errors.ts (layer protocol) imports "../hub/hub.js" from the higher layer hub',
      'session/socket-session.ts (layer session) imports "../hub/delivery.js" from the higher layer hub',
    ]);
  });

  it('names a file that is in no layer', () => {
    const dir = copyOfSrc();
    mkdirSync(path.join(dir, 'misc'));
    writeFileSync(path.join(dir, 'misc/thing.ts'), 'export const thing = 1;\n');
    writeFileSync(path.join(dir, 'loose.ts'), 'export const loose = 1;\n');
    expect(checkLayers(dir)).toEqual([
      'loose.ts is in no layer: put it in one of protocol, util, routing, brokers, config, session, hub, transport',
      'misc/thing.ts is in no layer: put it in one of protocol, util, routing, brokers, config, session, hub, transport',
    ]);
  });

  it('fails the lint run (exit code 1) on a broken copy and passes on src', async () => {
    const dir = copyOfSrc();
    appendFileSync(path.join(dir, 'routing/watch-registry.ts'), "\nimport '../transport/ws-hub.js';\n");
    const broken = await run(process.execPath, [script, dir]).then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    );
    expect(broken?.code).toBe(1);
    expect(broken?.stderr).toContain('routing/watch-registry.ts (layer routing) imports "../transport/ws-hub.js"');
    await expect(run(process.execPath, [script, src])).resolves.toMatchObject({ stderr: '' });
  });
});
