/**
 * The app as its build compiles it (tsc, with the decorator metadata Nest's
 * injection reads), typed by its source: `compiled<typeof import('../src/x.js')>('x.js')`.
 */
export function compiled<Module>(path: string): Promise<Module> {
  return import(new URL(`../dist/${path}`, import.meta.url).href) as Promise<Module>;
}
