/**
 * What `npm pack` ships of every published package must not name the
 * machine it was built on: no file holds this repository's absolute path,
 * and no source map points at an absolute file.
 */
import { mkdirSync, readdirSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packPackages, publishedPackages } from '../src/apps.js';
import { runOk } from '../src/run.js';

const PUBLISHED = publishedPackages();
// The checkout as this process sees it and as the build tools may have resolved it.
const REPO = fileURLToPath(new URL('../../', import.meta.url)).replace(/\/$/, '');
const REPO_PATHS = [...new Set([REPO, realpathSync(REPO)])];

const WORK = join(tmpdir(), `wshub-packed-files-${process.pid}`);
const unpacked = new Map<string, string>();

beforeAll(async () => {
  const tarballs = await packPackages(PUBLISHED, join(WORK, 'tarballs'));
  for (const [name, tarball] of tarballs) {
    const dir = join(WORK, 'unpacked', name);
    mkdirSync(dir, { recursive: true });
    await runOk('tar', ['-xzf', tarball, '-C', dir], WORK);
    unpacked.set(name, join(dir, 'package'));
  }
}, 120_000);

afterAll(() => rmSync(WORK, { recursive: true, force: true }));

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name));
}

describe('the packed packages', () => {
  it('are every package that is not private', () => {
    expect(PUBLISHED).toEqual(expect.arrayContaining(['core', 'nest', 'testing', 'redis', 'client', 'prometheus']));
  });

  it.each(PUBLISHED)('@wshub/%s holds no absolute path of the machine that built it', (name) => {
    const root = unpacked.get(`@wshub/${name}`)!;
    const found: string[] = [];
    for (const file of filesUnder(root)) {
      const text = readFileSync(file, 'utf8');
      const at = relative(root, file);
      for (const repo of REPO_PATHS) if (text.includes(repo)) found.push(`${at} contains ${repo}`);
      if (!file.endsWith('.map')) continue;
      const map = JSON.parse(text) as { file?: string; sourceRoot?: string; sources?: string[] };
      for (const path of [map.file, map.sourceRoot, ...(map.sources ?? [])]) {
        if (path && (isAbsolute(path) || /^[a-z]+:/i.test(path))) found.push(`${at} maps to ${path}`);
      }
    }
    expect(found).toEqual([]);
  });
});
