/** The layers of packages/core/src, lowest first; `.` is the entry (`index.ts`). */
export declare const LAYERS: readonly string[];
/** Every import under `src` that breaks the layer rule, as sentences; empty when none does. */
export declare function checkLayers(src: string): string[];
