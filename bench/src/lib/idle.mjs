/**
 * The measurements of scenarios G and H, on one server (a process, or a
 * cluster of workers) and several load processes of `@wshub/client`
 * clients: memory per idle connection, idle CPU of the heartbeat, one
 * broadcast to every client, and a reconnect storm.
 */
import { readFileSync } from 'node:fs';
import { sleep } from './clock.mjs';

/** This process's open-files limit (the children inherit it), from /proc; null elsewhere. */
export function openFilesLimitSync() {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    return Number(line.trim().split(/\s+/)[3]);
  } catch {
    return null;
  }
}

/**
 * Source addresses for the load processes of one session: `perLoad`
 * addresses 127.0.<block>.x each, a fresh block per session, so that the
 * source ports a dropped connection leaves in TIME_WAIT never limit the
 * next session.
 */
let block = 0;
export function addressBlocks(loads, perLoad) {
  block = (block % 250) + 1;
  return Array.from({ length: loads }, (_, k) =>
    Array.from({ length: perLoad }, (_, j) => `127.0.${block}.${1 + k * perLoad + j}`),
  );
}

export const IDLE_METRICS = [
  { key: 'heap', label: 'heap + external per idle connection', unit: 'bytes', better: 'lower' },
  { key: 'rss', label: 'RSS per idle connection', unit: 'bytes', better: 'lower' },
  { key: 'idleCpu', label: 'idle CPU (heartbeat)', unit: '% of a core', better: 'lower' },
  { key: 'beatUs', label: 'CPU per connection per heartbeat', unit: 'µs', better: 'lower' },
  { key: 'broadcast', label: 'one broadcast: time until the last client has it', unit: 'ms', better: 'lower' },
  { key: 'storm', label: 'reconnect storm: time until all are authorized again', unit: 'ms', better: 'lower' },
  { key: 'refused', label: 'reconnect storm: attempts refused on the way (HTTP 503 + 4408 + 4429)', unit: 'attempts', better: 'lower' },
];

/**
 * Runs every measurement on `node` with `clients` clients spread over
 * `loads`. Returns one sample per IDLE_METRICS key; the heap sample also
 * keeps the server's open files, the refused one every storm outcome.
 */
export async function measureIdle(node, loads, { clients, heartbeatMs, hbWindowMs, window, settleMs, timeoutMs, addressesPerLoad }) {
  const before = await node.server.call('mem');
  const per = Math.ceil(clients / loads.length);
  const counts = loads.map((_, k) => Math.max(0, Math.min(per, clients - k * per)));
  const addresses = addressBlocks(loads.length, addressesPerLoad);
  const ready = node.server.call('awaitReady', { sockets: clients }, timeoutMs);
  ready.catch(() => {});
  const opened = await Promise.all(
    loads.map((load, k) =>
      load.call('open', { port: node.port, path: node.path, from: k * per, count: counts[k], addresses: addresses[k], window }, timeoutMs),
    ),
  );
  await ready;
  const loadCpu = Math.max(...opened.map((o) => o.cpu.totalUs / Math.max(1, o.t1 - o.t0)));
  await sleep(settleMs);
  const after = await node.server.call('mem');
  const files = await node.server.call('files');

  // Idle: nothing but the heartbeat (and the pongs) for a whole number of intervals.
  await node.server.call('cpuMark');
  await sleep(hbWindowMs);
  const idle = await node.server.call('cpuRead');
  const beats = hbWindowMs / heartbeatMs;

  // One broadcast.
  await Promise.all(loads.map((load, k) => load.call('arm', { count: counts[k] })));
  const sent = await node.server.call('broadcastOnce');
  const got = await Promise.all(loads.map((load) => load.call('wait', { timeoutMs })));
  const delivered = got.every((g) => g.complete);
  const lastUs = Math.max(...got.map((g) => g.tDone));

  // The storm: every connection cut at once; the clients come back on their own backoff.
  const drops = await Promise.all(loads.map((load) => load.call('drop')));
  const t0 = Math.min(...drops.map((d) => d.t));
  const settled = await Promise.all(loads.map((load) => load.call('settle', { timeoutMs }, timeoutMs + 10_000)));
  const back = settled.every((s) => s.tAll !== null);
  const stormMs = back ? (Math.max(...settled.map((s) => s.tAll)) - t0) / 1000 : null;
  const stormError = back
    ? undefined
    : `incomplete: ${settled.reduce((n, s) => n + s.authorized, 0)} of ${clients} authorized after ${timeoutMs} ms`;
  const outcomes = {};
  for (const { errorKinds, tAll: _, ...counts } of settled) {
    for (const [k, v] of Object.entries(counts)) outcomes[k] = (outcomes[k] ?? 0) + v;
    for (const [k, v] of Object.entries(errorKinds)) outcomes[`error ${k}`] = (outcomes[`error ${k}`] ?? 0) + v;
  }

  const base = { loadCpu, serverCpu: null, serverSys: null };
  const mem = (m) => m.heapUsed + m.external;
  return {
    heap: { ...base, value: (mem(after) - mem(before)) / clients, files },
    rss: { ...base, value: (after.rss - before.rss) / clients },
    idleCpu: { ...base, value: (idle.totalUs / (hbWindowMs * 1000)) * 100, serverSys: idle.systemUs / Math.max(1, idle.totalUs) },
    beatUs: { ...base, value: idle.totalUs / (clients * beats) },
    broadcast: delivered
      ? { ...base, value: (lastUs - sent.t0) / 1000 }
      : { ...base, value: null, error: `incomplete: ${got.reduce((s, g) => s + g.received, 0)} of ${clients} received` },
    storm: stormMs === null ? { ...base, value: null, error: stormError } : { ...base, value: stormMs },
    // The sample keeps the whole tally: attempts, each refusal kind, other errors.
    refused: { ...base, value: outcomes.http503 + outcomes.close4408 + outcomes.close4429, outcomes },
  };
}
