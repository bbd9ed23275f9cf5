import { readFileSync } from 'node:fs';

/**
 * What the matrix takes from `packages/nest/README.md`, so the commands and
 * snippets a user copies are the ones tested and cannot drift from them.
 */
const README = new URL('../../packages/nest/README.md', import.meta.url);

function readme(): string {
  return readFileSync(README, 'utf8');
}

function section(text: string, heading: string): string {
  const start = text.indexOf(`\n${heading}\n`);
  if (start === -1) throw new Error(`packages/nest/README.md has no "${heading}" section`);
  // `# NestJS 12` lines inside sh blocks are comments, not headings: only ## and ### end a section.
  const next = text.slice(start + heading.length + 2).search(/\n#{2,3} /);
  return next === -1 ? text.slice(start) : text.slice(start, start + heading.length + 2 + next);
}

function codeBlocks(text: string, lang: string): string[] {
  return [...text.matchAll(new RegExp(`\`\`\`${lang}\\n([\\s\\S]*?)\`\`\``, 'g'))].map((m) => m[1]!);
}

/** The commands of the Installation section of `packages/<name>/README.md` (a README without Nest majors). */
export function packageInstallCommands(name: string): string[] {
  const text = readFileSync(new URL(`../../packages/${name}/README.md`, import.meta.url), 'utf8');
  const [block] = codeBlocks(section(text, '## Installation'), 'sh');
  if (!block) throw new Error(`packages/${name}/README.md: the Installation section has no sh block`);
  return block
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

/** The install commands under `# NestJS <major>` in the Installation section, in order. */
export function installCommands(major: number): string[] {
  const [block] = codeBlocks(section(readme(), '## Installation'), 'sh');
  if (!block) throw new Error('packages/nest/README.md: the Installation section has no sh block');
  const commands: string[] = [];
  let current: number | undefined;
  for (const line of block.split('\n')) {
    const header = /^# NestJS (\d+)$/.exec(line.trim());
    if (header) current = Number(header[1]);
    else if (current === major && line.trim() !== '') commands.push(line.trim());
  }
  if (commands.length === 0) throw new Error(`packages/nest/README.md gives no install command for NestJS ${major}`);
  return commands;
}

/** The snippets of "### The path": the `src/ws/path.ts` file and the import line for CommonJS and ESM apps. */
export function pathOverride(): { file: string; cjsImport: string; esmImport: string } {
  const blocks = codeBlocks(section(readme(), '### The path'), 'ts');
  const find = (first: string) => {
    const block = blocks.find((b) => b.startsWith(first));
    if (!block) throw new Error(`packages/nest/README.md: no snippet starting with "${first}" under "### The path"`);
    return block;
  };
  const importLine = (block: string) => block.split('\n').find((line) => line.startsWith("import './"))!;
  return {
    file: find('// src/ws/path.ts'),
    cjsImport: importLine(find('// src/app.module.ts: CommonJS apps')),
    esmImport: importLine(find('// src/app.module.ts: ESM apps')),
  };
}
