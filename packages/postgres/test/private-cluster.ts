import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = '/usr/lib/postgresql';

/** The newest `/usr/lib/postgresql/<version>/bin` with initdb and pg_ctl, if any. */
function findBinaries(): string | undefined {
  if (!existsSync(ROOT)) return undefined;
  const versions = readdirSync(ROOT)
    .filter((v) => existsSync(join(ROOT, v, 'bin', 'initdb')) && existsSync(join(ROOT, v, 'bin', 'pg_ctl')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : join(ROOT, versions[0], 'bin');
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface PrivateCluster {
  /** Connection settings for `pg`: 127.0.0.1, the cluster's port, user and database `postgres`. */
  config: { host: string; port: number; user: string; database: string };
  start(): Promise<void>;
  /** `pg_ctl stop -m fast`: every session is ended, as in a real restart. */
  stop(): Promise<void>;
  destroy(): Promise<void>;
}

/**
 * A PostgreSQL cluster of its own (`initdb` + `pg_ctl` in a temp dir, on a
 * free port), for a test that restarts PostgreSQL without touching the
 * shared one. Undefined, with one line saying why, when the binaries are
 * missing; under CI that is an error instead, so a green CI means it ran.
 */
export async function privateCluster(): Promise<PrivateCluster | undefined> {
  const bin = findBinaries();
  if (!bin) {
    const why = `no initdb/pg_ctl under ${ROOT}/*/bin`;
    if (process.env.CI) throw new Error(`${why}; CI must run the PostgreSQL restart test`);
    // biome-ignore lint/suspicious/noConsole: the one line that says why the test is skipped
    console.warn(`@wshub/postgres restart test skipped: ${why}.`);
    return undefined;
  }
  const dir = await mkdtemp(join(tmpdir(), 'wshub-pg-'));
  const data = join(dir, 'data');
  const port = await freePort();
  // initdb and postgres refuse to run as root: run them as the postgres user then.
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const { stdout: gid } = await run('id', ['-g', 'postgres']);
    await chown(dir, Number(stdout.trim()), Number(gid.trim()));
  }
  const pgRun = (tool: string, args: string[]) =>
    asRoot ? run('runuser', ['-u', 'postgres', '--', join(bin, tool), ...args]) : run(join(bin, tool), args);
  await pgRun('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=30`;
  const cluster: PrivateCluster = {
    config: { host: '127.0.0.1', port, user: 'postgres', database: 'postgres' },
    async start() {
      await pgRun('pg_ctl', ['-D', data, '-o', options, '-l', join(dir, 'log'), '-w', '-t', '60', 'start']);
    },
    async stop() {
      await pgRun('pg_ctl', ['-D', data, '-m', 'fast', '-w', '-t', '60', 'stop']);
    },
    async destroy() {
      await pgRun('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => {});
      await rm(dir, { recursive: true, force: true });
    },
  };
  await cluster.start();
  return cluster;
}
