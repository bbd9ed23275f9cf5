import { dirname, resolve } from 'node:path';
import type { Plugin } from 'esbuild';
import { defineConfig } from 'tsup';

/**
 * `dist/path` is a public entry that apps mutate before `WsModule` is
 * loaded, so the module must read the very same object: files in `src/` keep
 * their import of `./path.js` external (pointing at the sibling file of its own
 * format) instead of inlining a second copy.
 */
const sharedPathEntry: Plugin = {
  name: 'shared-path-entry',
  setup(build) {
    const target = build.initialOptions.format === 'cjs' ? './path.cjs' : './path.js';
    const src = resolve('src');
    build.onResolve({ filter: /^\.\/path\.js$/ }, (args) =>
      dirname(args.importer) === src ? { path: target, external: true } : undefined,
    );
  },
};

export default defineConfig({
  entry: { index: 'src/index.ts', path: 'src/path.ts' },
  format: ['esm', 'cjs'],
  // The declarations name `node:http`; an app whose tsconfig loads no `@types` (TypeScript 6's default)
  // reads them only through this reference, which tsup's declaration bundler drops from the source.
  dts: { banner: '/// <reference types="node" />' },
  sourcemap: true,
  clean: true,
  target: 'node20',
  // import.meta.url in the CommonJS build (to-plain.ts loads class-transformer through createRequire).
  shims: true,
  esbuildPlugins: [sharedPathEntry],
});
