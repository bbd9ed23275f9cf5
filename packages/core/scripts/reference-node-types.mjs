// Puts `/// <reference types="node" />` at the top of the main entry's
// declarations, which name `node:http` and `Buffer`: an app whose tsconfig
// loads no `@types` (TypeScript 6's default) reads them only through it.
// tsup's declaration bundler drops the directive tsc keeps from the source,
// and its banner would reach `protocol` too, which is browser-safe and must
// not pull Node's globals into a browser app; hence this step after tsup.
import { readFileSync, writeFileSync } from 'node:fs';

const REFERENCE = '/// <reference types="node" />\n';

for (const file of ['dist/index.d.ts', 'dist/index.d.cts']) {
  const text = readFileSync(file, 'utf8');
  if (!text.startsWith(REFERENCE)) writeFileSync(file, REFERENCE + text);
}
