import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NestExpressApplication } from '@nestjs/platform-express';

/**
 * Where the page loads `@wshub/client` from: the import map in
 * public/index.html maps the bare name to `${CLIENT_PREFIX}index.js`.
 */
export const CLIENT_PREFIX = '/vendor/wshub-client/';

/**
 * Serves the page (public/) and the client it imports. The client is the
 * package's own ESM build, found the way Node resolves `import '@wshub/client'`,
 * so the page always runs the installed version. That build is one module
 * that imports nothing, which lets a browser load it without a bundler; its
 * directory is served so the source map beside it loads too.
 */
export function servePage(app: NestExpressApplication): void {
  app.useStaticAssets(fileURLToPath(new URL('../public', import.meta.url)));
  const client = fileURLToPath(import.meta.resolve('@wshub/client'));
  app.useStaticAssets(dirname(client), { prefix: CLIENT_PREFIX, index: false });
}
