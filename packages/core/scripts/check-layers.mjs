// The import rule of packages/core/src, run by `npm run lint`: each folder is
// a layer, and a file may import from its own layer and the layers below it,
// never from one above. Type-only imports count too: a type from a higher
// layer ties the lower one to it just as much. docs/ARCHITECTURE.md lists the
// layers and says what each holds.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The layers, lowest first. `.` is the package's entry (`index.ts`), the top. */
export const LAYERS = ['protocol', 'util', 'routing', 'brokers', 'config', 'session', 'hub', 'transport', '.'];

const IMPORT = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)['"](\.{1,2}\/[^'"]+)['"]/g;

function sourceFiles(dir) {
  return readdirSync(dir).flatMap((entry) => {
    const file = path.join(dir, entry);
    if (statSync(file).isDirectory()) return sourceFiles(file);
    return /\.[cm]?ts$/.test(entry) ? [file] : [];
  });
}

/** The layer of a file: the first folder of its path under `src`; `.` for `index.ts`, the one file at the top. */
function layerOf(src, file) {
  const parts = path.relative(src, file).split(path.sep);
  if (parts.length > 1) return parts[0];
  return parts[0].replace(/\.js$/, '.ts') === 'index.ts' ? '.' : parts[0];
}

/**
 * Every import under `src` that breaks the rule, as sentences; an empty list
 * when there is none. A file outside the listed layers is a violation too,
 * so a new folder has to be given its place.
 */
export function checkLayers(src) {
  const problems = [];
  for (const file of sourceFiles(src)) {
    const name = path.relative(src, file);
    const layer = layerOf(src, file);
    const rank = LAYERS.indexOf(layer);
    if (rank === -1) {
      problems.push(`${name} is in no layer: put it in one of ${LAYERS.slice(0, -1).join(', ')}`);
      continue;
    }
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(IMPORT)) {
      const target = path.resolve(path.dirname(file), match[1]);
      if (path.relative(src, target).startsWith('..')) {
        problems.push(`${name} imports "${match[1]}", outside src`);
        continue;
      }
      const to = layerOf(src, target);
      const toRank = LAYERS.indexOf(to);
      if (toRank > rank) {
        problems.push(`${name} (layer ${layer}) imports "${match[1]}" from the higher layer ${to}`);
      }
    }
  }
  return problems.sort();
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const src = path.resolve(process.argv[2] ?? 'src');
  const problems = checkLayers(src);
  if (problems.length > 0) {
    process.stderr.write(`Layer rule broken in ${src}:\n${problems.map((p) => `  ${p}\n`).join('')}`);
    process.exitCode = 1;
  } else {
    process.stdout.write(`Layers kept: ${LAYERS.join(' < ')}\n`);
  }
}
