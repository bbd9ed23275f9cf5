import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pathOverride } from './readme.js';
import { runOk } from './run.js';

export interface AppSpec {
  /** Directory under `compat/apps/`. */
  name: string;
  /** Which scaffold it copies. */
  scaffold: string;
  major: number;
  moduleKind: 'cjs' | 'esm';
  /** The app's own test runner, run through its `npm test`. */
  runner: 'jest' | 'vitest';
}

export const APPS: AppSpec[] = [
  { name: 'nest10', scaffold: '@nestjs/schematics 10, "module": "commonjs"', major: 10, moduleKind: 'cjs', runner: 'jest' },
  { name: 'nest11-commonjs', scaffold: '@nestjs/schematics 11.0, "module": "commonjs"', major: 11, moduleKind: 'cjs', runner: 'jest' },
  { name: 'nest11', scaffold: '@nestjs/schematics 11.1, "module": "nodenext"', major: 11, moduleKind: 'cjs', runner: 'jest' },
  { name: 'nest12', scaffold: '@nestjs/schematics 12, ESM, "module": "nodenext"', major: 12, moduleKind: 'esm', runner: 'vitest' },
];

const APPS_DIR = fileURLToPath(new URL('../apps/', import.meta.url));
const REPO = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Outside the repository on purpose: a fresh app must not find this
 * repository's node_modules (or its @types) by walking up.
 */
export const CACHE_ROOT = resolve(process.env.WSHUB_COMPAT_CACHE ?? join(homedir(), '.cache', 'wshub-compat'));

/** This run's apps and tarballs; per process, so two checkouts can run the matrix at once. */
export const WORK_ROOT = join(CACHE_ROOT, 'work', String(process.pid));

function hasNodeModulesAbove(dir: string): string | undefined {
  for (let at = dirname(dir); ; at = dirname(at)) {
    if (existsSync(join(at, 'node_modules'))) return at;
    if (dirname(at) === at) return undefined;
  }
}

/** The folders under `packages/` whose package is published (not private). */
export function publishedPackages(): string[] {
  const packages = join(REPO, 'packages');
  return readdirSync(packages).filter((name) => {
    const manifest = JSON.parse(readFileSync(join(packages, name, 'package.json'), 'utf8')) as { private?: boolean };
    return manifest.private !== true;
  });
}

/** An empty folder of this run, where no node_modules above it is visible. */
export function freshDir(name: string): string {
  const dir = join(WORK_ROOT, name);
  const above = hasNodeModulesAbove(dir);
  if (above) throw new Error(`${above}/node_modules would be visible to the app in ${dir}; set WSHUB_COMPAT_CACHE elsewhere`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** `npm pack`s the published packages; returns name → tarball path. */
export async function packPackages(names: string[], into: string): Promise<Map<string, string>> {
  rmSync(into, { recursive: true, force: true });
  mkdirSync(into, { recursive: true });
  const tarballs = new Map<string, string>();
  for (const name of names) {
    const out = await runOk('npm', ['pack', '--json', '--pack-destination', into], join(REPO, 'packages', name));
    const [info] = JSON.parse(out.slice(out.indexOf('['))) as Array<{ filename: string; name: string }>;
    tarballs.set(info!.name, join(into, info!.filename));
  }
  return tarballs;
}

/**
 * The app's base install (its scaffold's dependencies, before any wshub
 * package), cached by a hash of its package.json, Node's major and npm's
 * version; npm's own cache makes a first install on a machine that has
 * fetched the packages before quick too.
 */
async function baseInstall(app: AppSpec): Promise<string> {
  const npmVersion = (await runOk('npm', ['--version'], APPS_DIR)).trim();
  const keyOf = (name: string) =>
    createHash('sha256')
      .update(`${readFileSync(join(APPS_DIR, name, 'package.json'), 'utf8')}\n${process.versions.node.split('.')[0]}\n${npmVersion}`)
      .digest('hex')
      .slice(0, 16);
  // Apps with the same package.json (two scaffolds of one major) share one base.
  const base = join(CACHE_ROOT, 'base', keyOf(app.name));
  if (existsSync(join(base, '.complete'))) return base;
  const building = `${base}.tmp-${process.pid}`;
  rmSync(building, { recursive: true, force: true });
  mkdirSync(building, { recursive: true });
  cpSync(join(APPS_DIR, app.name, 'package.json'), join(building, 'package.json'));
  await runOk('npm', ['install'], building);
  writeFileSync(join(building, '.complete'), new Date().toISOString());
  rmSync(base, { recursive: true, force: true });
  renameSync(building, base);
  // Bases no app uses any more are stale.
  const current = new Set(APPS.map((a) => keyOf(a.name)));
  for (const entry of readdirSync(join(CACHE_ROOT, 'base'))) {
    if (!entry.includes('.tmp-') && !current.has(entry)) rmSync(join(CACHE_ROOT, 'base', entry), { recursive: true, force: true });
  }
  return base;
}

/** Relative imports get the `.js` extension an ESM app's sources need. */
function toEsm(source: string): string {
  return source.replace(/((?:from|import)\s+')(\.{1,2}\/[^']+)(')/g, '$1$2.js$3');
}

/**
 * A fresh app of `spec`'s shape: its base install (copied with hard links;
 * npm replaces files rather than writing into them), its scaffold's config
 * files, the shared sources and the README's `src/ws/path.ts`.
 */
export async function createApp(app: AppSpec): Promise<string> {
  const base = await baseInstall(app);
  const dir = join(WORK_ROOT, app.name);
  const above = hasNodeModulesAbove(dir);
  if (above) throw new Error(`${above}/node_modules would be visible to the app in ${dir}; set WSHUB_COMPAT_CACHE elsewhere`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dirname(dir), { recursive: true });
  await runOk('cp', ['-al', base, dir], CACHE_ROOT);
  for (const file of ['package.json', 'package-lock.json', 'node_modules/.package-lock.json', '.complete']) {
    const path = join(dir, file);
    rmSync(path, { force: true });
    if (file !== '.complete' && existsSync(join(base, file))) cpSync(join(base, file), path);
  }
  for (const entry of readdirSync(join(APPS_DIR, app.name))) {
    if (entry !== 'package.json') cpSync(join(APPS_DIR, app.name, entry), join(dir, entry), { recursive: true });
  }
  const src = join(dir, 'src');
  mkdirSync(join(src, 'ws'), { recursive: true });
  for (const entry of readdirSync(join(APPS_DIR, 'shared', 'src'))) {
    const text = readFileSync(join(APPS_DIR, 'shared', 'src', entry), 'utf8');
    writeFileSync(join(src, entry), app.moduleKind === 'esm' ? toEsm(text) : text);
  }
  const snippet = pathOverride();
  writeFileSync(join(src, 'ws', 'path.ts'), snippet.file);
  const firstLine = readFileSync(join(src, 'app.module.ts'), 'utf8').split('\n')[0];
  const expected = app.moduleKind === 'esm' ? snippet.esmImport : snippet.cjsImport;
  if (firstLine !== expected) throw new Error(`src/app.module.ts starts with "${firstLine}", the README shows "${expected}"`);
  return dir;
}

/** The README's command with the wshub packages taken from the packed tarballs (they are not on the registry). */
export function withTarballs(command: string, tarballs: Map<string, string>): string[] {
  return command.split(/\s+/).map((word) => {
    if (!word.startsWith('@wshub/')) return word;
    const tarball = tarballs.get(word);
    if (!tarball) throw new Error(`the README installs ${word}, which the matrix did not pack`);
    return tarball;
  });
}
