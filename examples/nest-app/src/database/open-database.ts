import { readFile, rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import type { PoolLike } from '@wshub/postgres';

/** The database the demo's orders and outbox live in. */
export interface DemoDb {
  pool: PoolLike;
  /** For the page and the log: `embedded PostgreSQL (PGlite, in memory)` or `PostgreSQL at host:port/db`. */
  description: string;
  embedded: boolean;
  close(): Promise<void>;
}

/**
 * `DATABASE_URL` set: a `pg` Pool on that PostgreSQL (a `?options=-c search_path=…`
 * in the URL puts the demo's tables in a schema of their own). Unset: PGlite,
 * PostgreSQL compiled to WebAssembly, in memory in this process; nothing to
 * install or run, and the orders start afresh each time.
 */
export async function openDatabase(env: NodeJS.ProcessEnv = process.env): Promise<DemoDb> {
  const url = env.DATABASE_URL;
  if (url) {
    const { default: pg } = await import('pg');
    const pool = new pg.Pool({ connectionString: url, max: 5, keepAlive: true });
    // An idle client that PostgreSQL ends emits 'error' on the pool: without a listener that would end the process.
    pool.on('error', () => {});
    const where = new URL(url);
    return {
      pool,
      description: `PostgreSQL at ${where.hostname}:${where.port || 5432}${where.pathname}`,
      embedded: false,
      close: () => pool.end(),
    };
  }
  const [{ PGlitePool }, pglite] = await Promise.all([import('./pglite-pool.js'), createPGlite()]);
  const pool = new PGlitePool(pglite);
  return { pool, description: 'embedded PostgreSQL (PGlite, in memory)', embedded: true, close: () => pool.end() };
}

/**
 * A fresh in-memory PGlite. Most of its start is `initdb`; the first start
 * saves the new, empty cluster in the temp directory (one file per PGlite
 * version, about 5 MB) and later starts load it instead, which takes about a
 * third of the time. A file that cannot be read or loaded is made again.
 */
async function createPGlite(): Promise<PGlite> {
  const { PGlite } = await import('@electric-sql/pglite');
  // Its package.json is not exported: read it beside dist/, where the main entry is.
  const manifest = new URL('../package.json', import.meta.resolve('@electric-sql/pglite'));
  const { version } = JSON.parse(await readFile(manifest, 'utf8')) as { version: string };
  const file = join(tmpdir(), `wshub-demo-pglite-${version}.tar.gz`);
  const saved = await readFile(file).catch(() => undefined);
  if (saved) {
    try {
      return await PGlite.create({ loadDataDir: new Blob([saved]) });
    } catch {}
  }
  const db = await PGlite.create();
  try {
    const dump = Buffer.from(await (await db.dumpDataDir('gzip')).arrayBuffer());
    // Written aside, then renamed: another demo starting at the same time never reads half a file.
    const partial = `${file}.${process.pid}`;
    await writeFile(partial, dump);
    await rename(partial, file);
  } catch {}
  return db;
}
