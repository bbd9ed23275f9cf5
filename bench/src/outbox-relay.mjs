/**
 * Where the outbox relay's time goes (`@wshub/postgres`): ROWS rows waiting
 * in a fresh table, then a relay on an in-process `WsHub` with one `ws`
 * client sends them all; timed until the client has the last one. Each
 * round reports rows/s, the time the relay spent awaiting PostgreSQL (and
 * how many queries it made) and the time it spent awaiting the hub; then,
 * on the same rows refilled, a bare loop of `DELETE … RETURNING` batches of
 * the same size (as outbox.mjs's), and the relay ÷ loop of that round.
 *
 *   node bench/src/outbox-relay.mjs [rows=20000] [rounds=3] [batchSize=100]
 *   OUTBOX_COMPARE=/path/to/other/build/index.js node bench/src/outbox-relay.mjs …
 *
 * With OUTBOX_COMPARE (the `dist/index.js` of another build of
 * `@wshub/postgres`, e.g. an older commit's), each round runs that build and
 * this one, alternating, in one process: a side-by-side comparison.
 * Needs the local PostgreSQL (as outbox.mjs); works in a schema of its own,
 * dropped at the end.
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import { loadavg } from 'node:os';
import { pathToFileURL } from 'node:url';
import { WsHub } from '@wshub/core';
import * as current from '@wshub/postgres';
import pg from 'pg';
import WebSocket from 'ws';

const [rows = 20_000, rounds = 3, batchSize = 100] = process.argv.slice(2).map(Number);
const PG = { host: process.env.PGHOST ?? '127.0.0.1', port: Number(process.env.PGPORT ?? 5432), database: process.env.PGDATABASE ?? 'test' };
const builds = [['this build', current.Outbox]];
if (process.env.OUTBOX_COMPARE) {
  const other = await import(pathToFileURL(process.env.OUTBOX_COMPARE).href);
  builds.unshift([`OUTBOX_COMPARE`, other.Outbox]);
}

async function pgUser() {
  for (const user of process.env.PGUSER ? [process.env.PGUSER] : ['postgres', 'root']) {
    const client = new pg.Client({ ...PG, user, connectionTimeoutMillis: 3000 });
    try {
      await client.connect();
      await client.end();
      return user;
    } catch {
      await client.end().catch(() => {});
    }
  }
  throw new Error(`PostgreSQL at ${PG.host}:${PG.port}/${PG.database} did not answer as postgres or root`);
}

const user = await pgUser();
const pool = new pg.Pool({ ...PG, user, max: 4 });
const schema = `bench_outbox_relay_${process.pid}`;
await pool.query(`CREATE SCHEMA ${schema}`);
const hub = new WsHub({ authenticate: () => ({ id: 'u1', deviceFingerprint: 'bench' }) });
const server = createServer();
hub.attach(server);
server.listen(0, '127.0.0.1');
await once(server, 'listening');
const ready = new Promise((resolve) => hub.on('ready', resolve));
const ws = new WebSocket(`ws://127.0.0.1:${server.address().port}${hub.path}`, ['wshub']);
await ready;
let onFrame = () => {};
ws.on('message', (raw) => {
  if (JSON.parse(raw.toString()).event === 'n') onFrame();
});

async function fill(outbox) {
  for (let i = 0; i < rows; i += 1000) {
    const tx = await pool.connect();
    try {
      await tx.query('BEGIN');
      for (let k = i; k < Math.min(rows, i + 1000); k++) await outbox.sendMessage(tx, 'u1', 'n', k);
      await tx.query('COMMIT');
    } finally {
      tx.release();
    }
  }
}

/** The bare loop: what taking the rows costs without the hub. */
async function bareLoop(Outbox, table) {
  const outbox = new Outbox({ pool, table });
  await outbox.install();
  await fill(outbox);
  const started = process.hrtime.bigint();
  const client = await pool.connect();
  try {
    for (;;) {
      const { rowCount } = await client.query(
        `DELETE FROM ${table} WHERE id IN (SELECT id FROM ${table} WHERE dead_at IS NULL ORDER BY id LIMIT ${batchSize}) RETURNING id, message_id, kind, user_id, event, data::text, filter::text`,
      );
      if (rowCount === 0) break;
    }
  } finally {
    client.release();
  }
  return Math.round(rows / (Number(process.hrtime.bigint() - started) / 1e9));
}

/** One relay over `rows` waiting rows with `Outbox` of one build; what it measured. */
async function run(Outbox, table) {
  const outbox = new Outbox({ pool, table });
  await outbox.install();
  await fill(outbox);
  let got = 0;
  const all = new Promise((resolve) => {
    onFrame = () => ++got === rows && resolve();
  });
  let hubNs = 0n;
  let dbNs = 0n;
  let queries = 0;
  const target = {
    async sendMessage(...args) {
      const t = process.hrtime.bigint();
      try {
        return await hub.sendMessage(...args);
      } finally {
        hubNs += process.hrtime.bigint() - t;
      }
    },
    push: (...args) => hub.push(...args),
    disconnect: (userId) => hub.disconnect(userId),
  };
  // The real pool; the relay's connection counts the time its queries take.
  const timed = {
    query: pool.query.bind(pool),
    async connect() {
      const client = await pool.connect();
      const query = client.query.bind(client);
      client.query = async (...args) => {
        const t = process.hrtime.bigint();
        try {
          return await query(...args);
        } finally {
          dbNs += process.hrtime.bigint() - t;
          queries++;
        }
      };
      return client;
    },
  };
  const started = process.hrtime.bigint();
  const relay = new Outbox({ pool: timed, table }).relay(target, { batchSize });
  await all;
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  await relay.close();
  return { perSecond: Math.round(rows / (ms / 1000)), ms: Math.round(ms), postgresMs: Math.round(Number(dbNs) / 1e6), queries, hubMs: Math.round(Number(hubNs) / 1e6) };
}

try {
  const print = (line) => process.stdout.write(`${line}\n`);
  print(`load average ${loadavg().map((l) => l.toFixed(2)).join(', ')} (${process.version}); ${rows} rows, batches of ${batchSize}`);
  print('| round | build | rows/s | total | awaiting PostgreSQL (queries) | awaiting the hub |\n|---|---|---|---|---|---|');
  const ratios = new Map(builds.map(([name]) => [name, []]));
  let n = 0;
  for (let round = 1; round <= rounds; round++) {
    for (const [name, Outbox] of builds) {
      const table = `${schema}.outbox_${++n}`;
      const r = await run(Outbox, table);
      print(`| ${round} | ${name} | ${r.perSecond} | ${r.ms} ms | ${r.postgresMs} ms (${r.queries}) | ${r.hubMs} ms |`);
      ratios.get(name).push(r.perSecond);
    }
    const loop = await bareLoop(current.Outbox, `${schema}.outbox_${++n}`);
    const each = [...ratios].map(([name, rates]) => `${name} ÷ loop ${(rates[rates.length - 1] / loop).toFixed(2)}×`).join(', ');
    print(`| ${round} | bare DELETE … RETURNING loop | ${loop} | | | ${each} |`);
  }
  print(`load average at the end ${loadavg().map((l) => l.toFixed(2)).join(', ')}`);
} finally {
  ws.terminate();
  await hub.close();
  server.close();
  await pool.query(`DROP SCHEMA ${schema} CASCADE`).catch(() => {});
  await pool.end();
}
