import { DEFAULT_PATH } from '@wshub/core/protocol';

/** The shape of the shared path object (`@wshub/nest/dist/path`). */
export interface WsPath {
  path: string;
}

/**
 * The path `WsModule` serves when `forRoot({ path })` does not set one. Apps
 * change it before the module starts:
 *
 * ```ts
 * import p from '@wshub/nest/dist/path';
 * p.path = '/api/v2/ws';
 * ```
 *
 * This file is its own entry point of the package, and the module imports it
 * as such, so CommonJS and ESM builds each hold exactly one instance. The
 * module reads the named export: a CommonJS build that imports a default
 * through Node's interop would get `module.exports` instead of the object.
 */
export const wsPath: WsPath = { path: DEFAULT_PATH };

export default wsPath;
