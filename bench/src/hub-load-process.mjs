/**
 * A load process of scenarios G and H: `@wshub/client` HubClients, each
 * bound to one of several loopback source addresses (127.0.0.x) so that
 * tens of thousands of connections to one port do not run out of source
 * ports. The clients reconnect with the client's own jittered backoff
 * (its defaults), which is what the reconnect storm measures.
 *
 * Counts deliveries of the bench event (for the broadcast) and, during a
 * storm, how each failed attempt ended: HTTP 503 (the hub's pending
 * budget), 4408 (auth timeout), 4429 (a pending-frame limit), or other.
 */
import { HubClient } from '@wshub/client';
import { WebSocket } from 'ws';
import { cpuSince, nowUs, sleep } from './lib/clock.mjs';
import { serve } from './lib/ipc.mjs';
import { EVENT, tokenFor } from './lib/payload.mjs';

/** @type {HubClient[]} */
const clients = [];
let received = 0;
let target = Number.POSITIVE_INFINITY;
let round = null;
/** Every WebSocket that is not closed yet. */
const live = new Set();
/** Sockets that got the server's welcome (authorized) and are still open. */
let authorized = 0;
const WELCOME = Buffer.from('{"event":"wshub:welcome"');
const outcomes = { attempts: 0, http503: 0, httpOther: 0, close4408: 0, close4429: 0, closeOther: 0, errors: 0 };
/** Other failed attempts by error code (ECONNRESET, …), to say what they were. */
let errorKinds = {};

/** ws's WebSocket bound to a source address, counting attempts and refused upgrades. */
function boundSocket(localAddress) {
  return class BoundWebSocket extends WebSocket {
    constructor(url, protocols) {
      super(url, protocols, { localAddress, perMessageDeflate: false });
      outcomes.attempts++;
      live.add(this);
      this.welcomed = false;
      // The welcome is the server saying "authorized" (protocol v2); both contenders send it.
      this.on('message', (data) => {
        if (!this.welcomed && Buffer.isBuffer(data) && data.subarray(0, WELCOME.length).equals(WELCOME)) {
          this.welcomed = true;
          authorized++;
        }
      });
      this.on('close', () => {
        live.delete(this);
        if (this.welcomed) authorized--;
      });
      this.on('error', (error) => {
        const status = /Unexpected server response: (\d+)/.exec(error.message)?.[1];
        if (status === '503') outcomes.http503++;
        else if (status) outcomes.httpOther++;
        else {
          outcomes.errors++;
          const kind = error.code ?? error.message.slice(0, 40);
          errorKinds[kind] = (errorKinds[kind] ?? 0) + 1;
        }
      });
    }
  };
}

function onDelivery() {
  received++;
  if (round && !round.done && received >= target) {
    round.done = true;
    round.tDone = nowUs();
    round.resolve?.();
  }
}

serve({
  /**
   * Opens clients `from … from+count-1` (token `u<i>:d0`), spread over
   * `addresses`, at most `window` opening at once. Resolves when every
   * client's socket is open; the server says when all are authorized.
   */
  async open({ port, path, from, count, addresses, window = 256 }) {
    const classes = addresses.map(boundSocket);
    const cpu0 = process.cpuUsage();
    const t0 = nowUs();
    let next = 0;
    const worker = async () => {
      while (next < count) {
        const i = next++;
        const client = new HubClient(`ws://127.0.0.1:${port}${path}`, {
          token: () => tokenFor(from + i, 0),
          WebSocket: classes[i % classes.length],
        });
        client.on(EVENT, onDelivery);
        client.on('close', ({ code }) => {
          if (code === 4408) outcomes.close4408++;
          else if (code === 4429) outcomes.close4429++;
          else if (code !== 1006) outcomes.closeOther++;
        });
        client.on('error', () => {});
        clients.push(client);
        await new Promise((resolve) => {
          if (client.state === 'open') return resolve();
          const off = client.on('state', (state) => {
            if (state === 'open') {
              off();
              resolve();
            }
          });
        });
      }
    };
    await Promise.all(Array.from({ length: Math.min(window, count) }, worker));
    return { t0, t1: nowUs(), clients: clients.length, cpu: cpuSince(cpu0) };
  },

  /** Counts deliveries from now on until `count` arrived. */
  arm({ count }) {
    received = 0;
    target = count;
    round = { done: false, tDone: 0, resolve: null, cpu0: process.cpuUsage(), t0: nowUs() };
    return {};
  },

  async wait({ timeoutMs = 60_000 }) {
    const r = round;
    if (!r) throw new Error('wait without arm');
    if (!r.done) {
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        r.resolve = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    round = null;
    return { complete: r.done, received, tDone: r.done ? r.tDone : nowUs(), cpu: cpuSince(r.cpu0), wallUs: nowUs() - r.t0 };
  },

  /**
   * Drops every connection at once, as a network cut would: the TCP
   * sockets are destroyed without a close frame, each client sees 1006 and
   * reconnects after its backoff.
   */
  drop() {
    for (const key of Object.keys(outcomes)) outcomes[key] = 0;
    errorKinds = {};
    const t = nowUs();
    let dropped = 0;
    for (const ws of live) {
      if (ws._socket) {
        ws._socket.destroy();
        dropped++;
      }
    }
    return { t, dropped };
  },

  /**
   * Resolves when every client holds an authorized connection again (its
   * current socket got the welcome), or `timeoutMs` passed: `tAll` is when
   * (µs, shared clock; null on timeout), with what happened on the way.
   * Counted here rather than from the server's ready events, which also
   * count a client that was authorized, lost its new connection and came
   * back.
   */
  async settle({ timeoutMs = 120_000 }) {
    const end = Date.now() + timeoutMs;
    let tAll = null;
    while (Date.now() < end) {
      if (authorized >= clients.length) {
        tAll = nowUs();
        break;
      }
      await sleep(10);
    }
    return { tAll, authorized, clients: clients.length, ...outcomes, errorKinds };
  },

  /** Stops every client (no reconnect) and cuts its connection. */
  closeAll() {
    // Connections first: a client closed while open would wait for the close handshake.
    for (const ws of live) ws._socket?.destroy();
    for (const client of clients.splice(0)) void client.close();
    return {};
  },
});
