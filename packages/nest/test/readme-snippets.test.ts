/**
 * The README's snippets that are whole files compile as written, imports
 * included: the first example with its main.ts, the path override, and each
 * quick-start step. The services they import as "yours" are stubs
 * (fixtures/readme-snippets/services.ts); snippets that are parts of a class
 * (they start from `this.`) are left out.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const PACKAGE = fileURLToPath(new URL('../', import.meta.url));
const README = readFileSync(join(PACKAGE, 'README.md'), 'utf8');
const TSC = fileURLToPath(new URL('../../../node_modules/.bin/tsc', import.meta.url));

/** The ```ts blocks between two headings. */
function blocksBetween(from: string, to: string): string[] {
  const start = README.indexOf(from);
  const end = README.indexOf(to, start);
  if (start === -1 || end === -1) throw new Error(`the README has no "${from}" … "${to}" part`);
  return [...README.slice(start, end).matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

const wholeFile = (block: string) => !/^(await )?this\./m.test(block);

describe("the README's snippets", () => {
  it('compile as written, imports included', () => {
    const [intro, main] = blocksBetween('# @wshub/nest', '## Installation');
    const [pathFile, cjsImport] = blocksBetween('### The path', '### WsModule.forRoot');
    const steps = blocksBetween('## Quick start', '### Shutdown').filter(wholeFile);
    const stepTwo = steps.find((block) => block.includes('export class ClientConnectedHandler'));
    expect(steps.length).toBeGreaterThanOrEqual(9);
    expect(stepTwo).toBeDefined();

    const dir = mkdtempSync(join(PACKAGE, 'test', '.readme-snippets-'));
    try {
      const files: Record<string, string> = {
        'intro/app.module.ts': intro!,
        'intro/main.ts': main!,
        'path/ws/path.ts': pathFile!,
        'path/app.module.ts': cjsImport!,
      };
      steps.forEach((block, i) => {
        files[`step-${i}/snippet.ts`] = block;
        files[`step-${i}/ws/path.ts`] = pathFile!;
      });
      for (const [file, text] of Object.entries(files)) {
        mkdirSync(dirname(join(dir, file)), { recursive: true });
        writeFileSync(join(dir, file), text);
      }
      // What the snippets import from beside them: step 2's handler (and its MyUser), and the services.
      for (const folder of new Set(Object.keys(files).map((file) => file.split('/')[0]!))) {
        writeFileSync(join(dir, folder, 'client-connected.handler.ts'), stepTwo!);
        for (const name of ['auth.service.ts', 'order.service.ts', 'user.service.ts', 'chat.service.ts']) {
          cpSync(join(PACKAGE, 'test/fixtures/readme-snippets/services.ts'), join(dir, folder, name));
        }
      }
      writeFileSync(
        join(dir, 'tsconfig.json'),
        JSON.stringify({
          extends: '../../tsconfig.json',
          compilerOptions: { rootDir: '../..', noEmit: true, module: 'esnext', moduleResolution: 'bundler' },
          include: ['**/*.ts'],
          exclude: [],
        }),
      );
      let output = '';
      try {
        execFileSync(TSC, ['-p', join(dir, 'tsconfig.json')], { encoding: 'utf8', cwd: PACKAGE });
      } catch (error) {
        output = String((error as { stdout?: string }).stdout ?? error).replaceAll(dir, '<snippets>');
      }
      expect(output).toBe('');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
