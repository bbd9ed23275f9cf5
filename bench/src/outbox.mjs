/**
 * The PostgreSQL outbox (`@wshub/postgres`, issue 25) measured on the local
 * PostgreSQL (127.0.0.1:5432, database `test`, or PGHOST/PGPORT/PGDATABASE/
 * PGUSER), in a schema of its own that is dropped at the end:
 *
 * - commit → socket latency: RATE notifications/s for SECONDS, from the
 *   moment COMMIT answers to the client's receipt, once per entry of PER_TX
 *   (notifications per transaction: `1,5` runs one per transaction, then
 *   five, the same rate in a fifth of the transactions);
 * - relay throughput: ROWS rows waiting, then the relay starts; beside it a
 *   bare loop of `DELETE … RETURNING` batches of the same size on the same
 *   table (what the relay would cost without the hub); ROUNDS pairs, relay
 *   then loop, each on a fresh fill, so each ratio compares two runs a few
 *   seconds apart (the median of each and the ratio of the medians are
 *   reported, and each pair's ratio);
 * - the cost in the app's transaction: one `sendMessage` insert beside the
 *   app's own one-row insert, each timed inside a transaction.
 *
 *   node bench/src/outbox.mjs [rate=1000] [seconds=10] [rows=20000] [inserts=2000] [perTx=1,5] [--rounds=3]
 *   node bench/src/outbox.mjs ... --json      # one JSON line, for the smoke test
 *
 * The hub and the relay run in a child process (as on a node); the app's
 * writes and the client's socket run here, so both ends of a latency sample
 * are read from one clock.
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { WsHub } from '@wshub/core';
import { Outbox } from '@wshub/postgres';
import pg from 'pg';
import WebSocket from 'ws';

const BATCH = 100;
const PG = {
  host: process.env.PGHOST ?? '127.0.0.1',
  port: Number(process.env.PGPORT ?? 5432),
  database: process.env.PGDATABASE ?? 'test',
};

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

// ------------------------------------------------------------ hub + relay

if (process.argv[2] === 'hub') {
  const hub = new WsHub({
    authenticate: (request) => ({ id: new URL(request.url ?? '/', 'http://x').searchParams.get('user'), deviceFingerprint: 'bench' }),
  });
  const server = createServer();
  hub.attach(server);
  const pool = new pg.Pool(JSON.parse(process.env.PG_CONFIG));
  const outbox = new Outbox({ pool, table: process.env.OUTBOX_TABLE });
  let relay;
  server.listen(0, '127.0.0.1', () => process.send({ type: 'port', port: server.address().port, path: hub.path }));
  process.on('message', async (m) => {
    if (m === 'start') {
      relay = outbox.relay(hub, { batchSize: BATCH });
      relay.on('error', (error) => process.send({ type: 'error', message: error.message }));
      process.send({ type: 'started' });
    } else if (m === 'stop') {
      await relay?.close();
      relay = undefined;
      process.send({ type: 'stopped' });
    }
  });
  process.on('disconnect', () => process.exit(0));
} else {
  await main();
}

// ------------------------------------------------------------------- main

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))];
}

function summary(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  return { n: sorted.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
}

async function main() {
  const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  const json = process.argv.includes('--json');
  const roundsArg = process.argv.find((a) => a.startsWith('--rounds='));
  const rounds = roundsArg ? Number(roundsArg.slice('--rounds='.length)) : 3;
  if (!Number.isSafeInteger(rounds) || rounds < 1) throw new TypeError(`--rounds must be a positive integer: ${roundsArg}`);
  const [rate = 1000, seconds = 10, rowCount = 20_000, inserts = 2000] = args.slice(0, 4).map(Number);
  // Notifications per transaction, one latency phase each: "1,5" measures one per transaction, then five.
  const perTxList = (args[4] ?? '1,5').split(',').map(Number);
  if (!perTxList.every((n) => Number.isSafeInteger(n) && n > 0)) throw new TypeError(`perTx must be positive integers, comma-separated: ${args[4]}`);
  const user = await pgUser();
  const schema = `bench_outbox_${process.pid}`;
  const table = `${schema}.outbox`;
  const config = { ...PG, user, max: 32 };
  const pool = new pg.Pool(config);
  await pool.query(`CREATE SCHEMA ${schema}`);
  const child = fork(fileURLToPath(import.meta.url), ['hub'], {
    env: { ...process.env, PG_CONFIG: JSON.stringify({ ...config, max: 2 }), OUTBOX_TABLE: table },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const next = (type) =>
    new Promise((resolve) => {
      const on = (m) => {
        if (m.type !== type) return;
        child.off('message', on);
        resolve(m);
      };
      child.on('message', on);
    });
  try {
    const outbox = new Outbox({ pool, table });
    await outbox.install();
    await pool.query(`CREATE TABLE ${schema}.orders (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, owner_id text NOT NULL, status text NOT NULL)`);
    const { port, path } = await next('port');

    // The client: every frame's data is the row's sequence number.
    const ws = new WebSocket(`ws://127.0.0.1:${port}${path}?user=u1`, ['wshub']);
    await once(ws, 'open');
    let onFrame = () => {};
    ws.on('message', (raw) => {
      const frame = JSON.parse(raw.toString());
      if (frame.event === 'n') onFrame(frame.data, process.hrtime.bigint());
    });
    const send = async (n, count = 1) => {
      const tx = await pool.connect();
      try {
        await tx.query('BEGIN');
        for (let k = 0; k < count; k++) await outbox.sendMessage(tx, 'u1', 'n', n + k);
        await tx.query('COMMIT');
      } finally {
        tx.release();
      }
    };

    // 1. Commit → socket latency at a fixed rate.
    child.send('start');
    await next('started');
    // Until the first row arrives: the socket is ready once the hub has
    // authenticated it, and the first round trips (connections, plans) are
    // not samples.
    let warm = false;
    onFrame = () => {
      warm = true;
    };
    while (!warm) {
      await send(-1);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    // One phase per entry of `perTx`: `perTx` notifications in each
    // transaction, at `rate` notifications/s (rate ÷ perTx transactions/s).
    const measure = async (perTx, base) => {
      const committed = new Map();
      const received = new Map();
      const total = Math.round((rate * seconds) / perTx) * perTx;
      const allIn = new Promise((resolve) => {
        onFrame = (n, at) => {
          if (n < base) return;
          received.set(n, at);
          if (received.size === total) resolve();
        };
      });
      const startedAt = performance.now();
      const writes = [];
      for (let i = 0; i < total; i += perTx) {
        const due = startedAt + (i * 1000) / rate;
        const wait = due - performance.now();
        if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
        // Not awaited: transactions overlap as an app's requests do (up to 32 connections).
        writes.push(
          send(base + i, perTx).then(() => {
            const at = process.hrtime.bigint();
            for (let k = 0; k < perTx; k++) committed.set(base + i + k, at);
          }),
        );
      }
      await Promise.all(writes);
      const took = (performance.now() - startedAt) / 1000;
      await allIn;
      // A frame can beat the COMMIT's answer to this process: that sample is 0.
      const latencies = [...committed].map(([n, at]) => Math.max(0, Number(received.get(n) - at) / 1e6));
      return { perTx, ...summary(latencies), rate, achievedRate: Math.round(total / took), transactionsPerSecond: Math.round(total / perTx / took) };
    };
    const latency = [];
    for (const [index, perTx] of perTxList.entries()) latency.push(await measure(perTx, (index + 1) * 10_000_000));

    // 2. Relay throughput, beside a bare DELETE … RETURNING loop.
    child.send('stop');
    await next('stopped');
    const fill = async () => {
      for (let i = 0; i < rowCount; i += 1000) {
        const tx = await pool.connect();
        try {
          await tx.query('BEGIN');
          for (let k = i; k < Math.min(rowCount, i + 1000); k++) await outbox.sendMessage(tx, 'u1', 'n', k);
          await tx.query('COMMIT');
        } finally {
          tx.release();
        }
      }
    };
    const relayRun = async () => {
      await fill();
      let got = 0;
      const relayed = new Promise((resolve) => {
        onFrame = () => {
          if (++got === rowCount) resolve();
        };
      });
      const relayStart = performance.now();
      child.send('start');
      await relayed;
      const relaySeconds = (performance.now() - relayStart) / 1000;
      child.send('stop');
      await next('stopped');
      return Math.round(rowCount / relaySeconds);
    };
    const loopRun = async () => {
      await fill();
      const loopStart = performance.now();
      const loop = await pool.connect();
      try {
        for (;;) {
          const { rowCount: n } = await loop.query(
            `DELETE FROM ${table} WHERE id IN (SELECT id FROM ${table} WHERE dead_at IS NULL ORDER BY id LIMIT ${BATCH}) RETURNING id, message_id, kind, user_id, event, data::text, filter::text`,
          );
          if (n === 0) break;
        }
      } finally {
        loop.release();
      }
      return Math.round(rowCount / ((performance.now() - loopStart) / 1000));
    };
    const pairs = [];
    for (let r = 0; r < rounds; r++) {
      const relayPerSecond = await relayRun();
      const barePerSecond = await loopRun();
      pairs.push({ relayPerSecond, barePerSecond, ratio: Number((relayPerSecond / barePerSecond).toFixed(2)) });
    }
    const median = (values) => {
      const sorted = [...values].sort((a, b) => a - b);
      const mid = Math.floor(sorted.length / 2);
      return sorted.length % 2 ? sorted[mid] : Math.round((sorted[mid - 1] + sorted[mid]) / 2);
    };
    const throughput = {
      rows: rowCount,
      relayPerSecond: median(pairs.map((p) => p.relayPerSecond)),
      barePerSecond: median(pairs.map((p) => p.barePerSecond)),
      rounds: pairs,
    };

    // 3. The cost of one sendMessage insert, beside the app's own insert.
    const own = [];
    const outboxInsert = [];
    const tx = await pool.connect();
    try {
      for (let i = 0; i < inserts; i++) {
        await tx.query('BEGIN');
        let t = process.hrtime.bigint();
        await tx.query(`INSERT INTO ${schema}.orders (owner_id, status) VALUES ($1, $2)`, ['u1', 'shipped']);
        own.push(Number(process.hrtime.bigint() - t) / 1000);
        t = process.hrtime.bigint();
        await outbox.sendMessage(tx, 'u1', 'order-status', { id: i, status: 'shipped' }, i);
        outboxInsert.push(Number(process.hrtime.bigint() - t) / 1000);
        // Rolled back: the relay is stopped and the table stays as it was.
        await tx.query('ROLLBACK');
      }
    } finally {
      tx.release();
    }
    const cost = { n: inserts, ownInsertUs: summary(own), sendMessageUs: summary(outboxInsert) };

    ws.terminate();
    const load = loadavg().map((l) => Number(l.toFixed(2)));
    const result = { latency, throughput, cost, loadavg: load, node: process.version };
    if (json) {
      process.stdout.write(`${JSON.stringify(result)}\n`);
    } else {
      const f = (x) => x.toFixed(2);
      const print = (line) => process.stdout.write(`${line}\n`);
      print(`load average ${load.join(', ')} (${process.version})`);
      print('| measure | value |\n|---|---|');
      for (const l of latency) {
        print(
          `| commit → socket, ${rate} notifications/s offered, ${l.perTx} per transaction (achieved ${l.achievedRate}/s in ${l.transactionsPerSecond} transactions/s), ${l.n} samples | p50 ${f(l.p50)} ms, p99 ${f(l.p99)} ms |`,
        );
      }
      const each = (key) => throughput.rounds.map((p) => p[key]).join(', ');
      print(`| relay, ${rowCount} waiting rows, batches of ${BATCH}, median of ${rounds} (${each('relayPerSecond')}) | ${throughput.relayPerSecond} notifications/s |`);
      print(
        `| bare DELETE … RETURNING loop, same batches and table, median of ${rounds} (${each('barePerSecond')}) | ${throughput.barePerSecond} rows/s (relay ÷ loop ${(throughput.relayPerSecond / throughput.barePerSecond).toFixed(2)}× by the medians; each pair ${throughput.rounds.map((p) => `${p.ratio.toFixed(2)}×`).join(', ')}) |`,
      );
      print(`| the app's own one-row INSERT, in its transaction | p50 ${f(cost.ownInsertUs.p50)} µs, p99 ${f(cost.ownInsertUs.p99)} µs |`);
      print(`| one outbox.sendMessage insert, in the same transaction | p50 ${f(cost.sendMessageUs.p50)} µs, p99 ${f(cost.sendMessageUs.p99)} µs |`);
    }
  } finally {
    child.kill();
    await pool.query(`DROP SCHEMA ${schema} CASCADE`).catch(() => {});
    await pool.end();
  }
}
