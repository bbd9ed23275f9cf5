/**
 * The load generator: raw `ws` clients in one process. Every contender is
 * driven by the same client code, so the load side costs the same whoever
 * the server is. Socket.IO's wire protocol (Engine.IO v4 + Socket.IO v5
 * packets) is spoken directly over `ws`: open → `40{auth}` → counted `42`
 * events, pings answered.
 *
 * Clients count messages (see `countFrames`); in latency mode they also
 * read the `"t":` send stamp of each message (µs on the shared monotonic
 * clock).
 */
import { WebSocket } from 'ws';
import { cpuSince, nowUs } from './lib/clock.mjs';
import { FrameCounter } from './lib/frame-counter.mjs';
import { serve } from './lib/ipc.mjs';
import { SCOPED_EVENT, scopeOf, tokenFor } from './lib/payload.mjs';

/** @type {Set<WebSocket>} */
const sockets = new Set();

// The current round.
let received = 0;
let target = Number.POSITIVE_INFINITY;
let latencyMode = false;
/** @type {Float64Array} */
let latencies = new Float64Array(0);
let latencyCount = 0;
let round = null;

const T_KEY = Buffer.from('"t":');

function finishIfDone() {
  if (received >= target && round && !round.done) {
    round.done = true;
    round.tDone = nowUs();
    round.resolve?.();
  }
}

/**
 * Once a client is ready, its socket's bytes go to a FrameCounter instead
 * of ws's Receiver (see frame-counter.mjs): the load side then costs a
 * fraction of the server's work per message. ws still does the handshake,
 * sends, pongs and close handling. Nothing is delivered before a client is
 * ready, so no frame is split between the two readers.
 */
function countFrames(ws, dialect) {
  const socket = ws._socket;
  const io = dialect === 'socket.io';
  const counter = new FrameCounter(
    (opcode, head) => {
      if (opcode === 0x1 || opcode === 0x2) {
        if (!io) onDelivery(head);
        else if (head[0] === 0x34 && head[1] === 0x32) onDelivery(head); // 42: event
        else if (head[0] === 0x32 && head.length === 1) ws.send('3'); // 2: ping
      } else if (opcode === 0x9) ws.pong(head);
      else if (opcode === 0x8) ws.terminate();
    },
    () => (latencyMode ? 160 : io ? 2 : 0),
  );
  socket.removeAllListeners('data');
  socket.on('data', (chunk) => counter.push(chunk));
}

function onDelivery(data) {
  received++;
  if (latencyMode) recordLatency(data);
  if (received >= target) finishIfDone();
}

function recordLatency(data) {
  const at = data.indexOf(T_KEY);
  if (at === -1) return;
  let t = 0;
  for (let i = at + T_KEY.length; i < data.length; i++) {
    const c = data[i];
    if (c < 48 || c > 57) break;
    t = t * 10 + (c - 48);
  }
  if (latencyCount < latencies.length) latencies[latencyCount++] = nowUs() - t;
}

/** Opens one client; resolves when it can receive deliveries (ws: open; Socket.IO: namespace joined). */
function openClient({ base, path, dialect, token, watch }) {
  return new Promise((resolve, reject) => {
    const full =
      dialect === 'socket.io'
        ? `${base}/socket.io/?EIO=4&transport=websocket`
        : `${base}${path}?token=${encodeURIComponent(token)}`;
    const ws = new WebSocket(full, { perMessageDeflate: false, skipUTF8Validation: true });
    let settled = false;
    const fail = (error) => {
      if (settled) return;
      settled = true;
      ws.terminate();
      reject(error);
    };
    ws.on('error', fail);
    ws.on('close', (code) => {
      sockets.delete(ws);
      fail(new Error(`closed before ready (${code})`));
    });
    const ready = () => {
      settled = true;
      sockets.add(ws);
      countFrames(ws, dialect);
      resolve();
    };
    if (dialect === 'socket.io') {
      // The handshake goes through ws's Receiver; deliveries through countFrames.
      ws.on('message', (data) => {
        const c0 = data[0];
        if (c0 === 0x34 /* 4 */) {
          const c1 = data[1];
          if (c1 === 0x30 /* 0: CONNECT ack */) {
            if (watch) ws.send(`42${JSON.stringify(['watch', watch])}`);
            ready();
          } else if (c1 === 0x34 /* 4: CONNECT_ERROR */) fail(new Error(`refused: ${data}`));
        } else if (c0 === 0x32 /* 2: ping */) ws.send('3');
        else if (c0 === 0x30 /* 0: open */) ws.send(`40${JSON.stringify({ token })}`);
      });
    } else {
      ws.on('open', () => {
        if (watch) ws.send(JSON.stringify({ event: 'watch', data: watch }));
        ready();
      });
    }
  });
}

serve({
  /**
   * Opens `users × devices` clients, at most `window` handshakes in flight.
   * Client k of user u gets token `u<u>:d<k>`; with `scopes`, client i
   * watches (SCOPED_EVENT, `s<i % scopes>`).
   */
  async connect({ port, path, dialect, users, devices = 1, scopes = 0, window = 256 }) {
    const base = `ws://127.0.0.1:${port}`;
    const specs = [];
    for (let d = 0; d < devices; d++) {
      for (let u = 0; u < users; u++) {
        const i = specs.length;
        specs.push({
          base,
          path,
          dialect,
          token: tokenFor(u, d),
          watch: scopes ? { event: SCOPED_EVENT, payload: scopeOf(i, scopes) } : null,
        });
      }
    }
    const cpu0 = process.cpuUsage();
    const t0 = nowUs();
    let next = 0;
    let failed = 0;
    let firstError;
    const worker = async () => {
      while (next < specs.length) {
        const spec = specs[next++];
        try {
          await openClient(spec);
        } catch (error) {
          failed++;
          firstError ??= String(error?.message ?? error);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(window, specs.length) }, worker));
    const t1 = nowUs();
    if (failed) throw new Error(`${failed} of ${specs.length} clients failed to connect: ${firstError}`);
    return { t0, t1, clients: specs.length, cpu: cpuSince(cpu0) };
  },

  /** Starts a round: counts deliveries from now on; `count` may be set later with `target`. */
  arm({ count = Number.POSITIVE_INFINITY, latency = false }) {
    received = 0;
    target = count;
    latencyMode = latency;
    latencyCount = 0;
    if (latency && Number.isFinite(count) && latencies.length < count) latencies = new Float64Array(count);
    round = { done: false, tDone: 0, resolve: null, t0: nowUs(), cpu0: process.cpuUsage() };
    return { t: round.t0 };
  },

  /**
   * Ends a round: waits until `count` deliveries arrived (or `timeoutMs`
   * passed) and reports when the last one came, CPU used since `arm`, and
   * latency percentiles in latency mode.
   */
  async wait({ count, timeoutMs = 30_000 }) {
    if (!round) throw new Error('wait without arm');
    if (count !== undefined) target = count;
    finishIfDone();
    if (!round.done) {
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        round.resolve = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    const r = round;
    round = null;
    const end = r.done ? r.tDone : nowUs();
    const result = {
      complete: r.done,
      received,
      expected: target,
      tDone: end,
      wallUs: end - r.t0,
      cpu: cpuSince(r.cpu0),
    };
    if (latencyMode) result.latency = percentiles(latencies.subarray(0, latencyCount));
    target = Number.POSITIVE_INFINITY;
    latencyMode = false;
    return result;
  },

  /** Drops every client at once (no close handshake). */
  async closeAll() {
    const all = [...sockets];
    sockets.clear();
    await Promise.all(
      all.map(
        (ws) =>
          new Promise((resolve) => {
            if (ws.readyState === WebSocket.CLOSED) return resolve();
            ws.once('close', resolve);
            ws.terminate();
          }),
      ),
    );
    return { closed: all.length };
  },
});

function percentiles(values) {
  if (values.length === 0) return { n: 0, p50: null, p99: null, max: null };
  const sorted = Float64Array.from(values).sort();
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { n: sorted.length, p50: at(0.5) / 1000, p99: at(0.99) / 1000, max: sorted[sorted.length - 1] / 1000 };
}
