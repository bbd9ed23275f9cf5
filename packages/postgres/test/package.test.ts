/** The built package as apps load it: both entries, CommonJS and ESM, share one Outbox class. */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const cwd = new URL('..', import.meta.url);
const run = (args: string[]) => execFileSync(process.execPath, args, { cwd, encoding: 'utf8' }).trim();

describe('the built package', () => {
  it('CommonJS: WsOutboxModule provides the Outbox class that require("@wshub/postgres") gives', () => {
    const out = run([
      '-e',
      `const { Outbox } = require('@wshub/postgres');
       const { WsOutboxModule } = require('@wshub/postgres/nest');
       const m = WsOutboxModule.forRoot({ pool: { connect() {}, query() {} } });
       process.stdout.write(String(m.providers.some((p) => p.provide === Outbox)));`,
    ]);
    expect(out).toBe('true');
  });

  it('ESM: WsOutboxModule provides the Outbox class that import gives', () => {
    const out = run([
      '--input-type=module',
      '-e',
      `import { Outbox } from '@wshub/postgres';
       import { WsOutboxModule } from '@wshub/postgres/nest';
       const m = WsOutboxModule.forRoot({ pool: { connect() {}, query() {} } });
       process.stdout.write(String(m.providers.some((p) => p.provide === Outbox)));`,
    ]);
    expect(out).toBe('true');
  });
});
