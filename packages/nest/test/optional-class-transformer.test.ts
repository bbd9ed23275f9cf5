/** class-transformer is an optional peer: loaded only for the default serializer, and named when missing. */
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { loadInstanceToPlain } from '../src/to-plain.js';

const app = fileURLToPath(new URL('./fixtures/optional-class-transformer/app.cjs', import.meta.url));

async function run(...args: string[]): Promise<{ started: boolean; classTransformerLoaded?: boolean; error?: string }> {
  const { stdout } = await promisify(execFile)(process.execPath, [app, ...args], { timeout: 20_000 });
  return JSON.parse(stdout.trim().split('\n').at(-1)!);
}

describe('class-transformer is loaded only by the default serializer (CommonJS build, real Nest app)', () => {
  it('forRoot({ serialize }) starts without loading it', async () => {
    expect(await run('custom')).toEqual({ started: true, classTransformerLoaded: false });
  });

  it('forRoot({ serialize }) starts when it is not installed', async () => {
    expect(await run('custom', '--block')).toEqual({ started: true, classTransformerLoaded: false });
  });

  it('the default serializer loads it at startup', async () => {
    expect(await run('default')).toEqual({ started: true, classTransformerLoaded: true });
  });

  it('the default serializer without it stops the app at startup with a sentence naming the package and the option', async () => {
    const result = await run('default', '--block');
    expect(result.started).toBe(false);
    expect(result.error).toContain('needs the package class-transformer, which is not installed');
    expect(result.error).toContain('WsModule.forRoot({ serialize })');
  });
});

describe('loadInstanceToPlain', () => {
  it('finds class-transformer from where the package is installed', () => {
    expect(loadInstanceToPlain()).toBeTypeOf('function');
  });

  it('names the package and the option when Node cannot resolve it', () => {
    const nowhere = createRequire(join(mkdtempSync(join(tmpdir(), 'wshub-no-ct-')), 'index.js'));
    expect(() => loadInstanceToPlain(nowhere)).toThrow(/class-transformer.*forRoot\(\{ serialize \}\)/s);
  });

  it('passes any other failure through as it is', () => {
    const broken = new Error('boom in class-transformer');
    expect(() =>
      loadInstanceToPlain(() => {
        throw broken;
      }),
    ).toThrow(broken);
  });
});
