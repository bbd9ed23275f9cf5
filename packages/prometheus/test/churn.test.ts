/**
 * Gauges must never drift: thousands of real sockets open and close in
 * every way a socket can end — cleanly or torn down, before, during and
 * after authenticate, refused, timed out — while the registry is scraped,
 * and afterwards every gauge reads zero again.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { collectHubMetrics } from '../src/index.js';
import { type Fixture, scrape, startHub, type User, until, userFromRequest } from './support.js';

let f: Fixture | undefined;
afterEach(async () => {
  await f?.close();
  f = undefined;
});

/** How each socket ends; `auth` is how authenticate behaves for it. */
const ENDINGS = [
  { kind: 'closed when ready', auth: 'ok', end: 'close-after-welcome' },
  { kind: 'torn down when ready', auth: 'ok', end: 'terminate-after-welcome' },
  { kind: 'closed mid-auth', auth: 'slow', end: 'close-on-open' },
  { kind: 'torn down mid-auth', auth: 'slow', end: 'terminate-on-open' },
  { kind: 'torn down while auth hangs', auth: 'hang', end: 'terminate-on-open' },
  { kind: 'refused (4403)', auth: 'bad', end: 'wait' },
  { kind: 'timed out (4408)', auth: 'hang', end: 'wait' },
  { kind: 'closed by the server (4000)', auth: 'ok', end: 'disconnect' },
] as const;

const SOCKETS = 4000;
const AT_ONCE = 200;

describe('gauges under churn', () => {
  it(`every gauge returns to zero after ${SOCKETS} sockets open and close in every way`, async () => {
    f = await startHub({
      authTimeoutMs: 150,
      async authenticate(req): Promise<User> {
        const mode = new URL(req.url ?? '/', 'http://localhost').searchParams.get('auth');
        if (mode === 'slow') await sleep(20);
        if (mode === 'hang') await new Promise(() => {});
        return userFromRequest(req);
      },
    });
    const { hub, url } = f;
    const registry = new Registry();
    collectHubMetrics(hub, { registry });
    let peak = 0;
    let peakPending = 0;

    const one = async (i: number) => {
      const ending = ENDINGS[i % ENDINGS.length]!;
      // 100 users, several devices each: rooms fill and empty many times over.
      const user = ending.auth === 'bad' ? 'bad' : `u${i % 100}`;
      const ws = new WebSocket(`${url}?user=${user}&device=d${i}&auth=${ending.auth}`, ['wshub']);
      ws.on('error', () => {});
      const closed = new Promise<number>((resolve) => ws.once('close', resolve));
      // Listening from the start: the welcome may arrive with the upgrade response.
      const welcomed = new Promise((resolve) => ws.once('message', resolve));
      await new Promise<void>((resolve) => {
        ws.once('open', resolve);
        ws.once('close', () => resolve());
      });
      switch (ending.end) {
        case 'close-on-open':
          ws.close();
          break;
        case 'terminate-on-open':
          ws.terminate();
          break;
        case 'close-after-welcome':
        case 'terminate-after-welcome':
        case 'disconnect':
          await welcomed;
          if (ending.end === 'close-after-welcome') ws.close();
          else if (ending.end === 'terminate-after-welcome') ws.terminate();
          else await hub.disconnect(user, `d${i}`);
          break;
        case 'wait':
          break;
      }
      return closed;
    };

    for (let start = 0; start < SOCKETS; start += AT_ONCE) {
      let waveEnded = false;
      const wave = Promise.all(Array.from({ length: AT_ONCE }, (_, k) => one(start + k))).finally(() => {
        waveEnded = true;
      });
      // Scrapes while sockets come and go must work and never read a negative
      // gauge; scraping until the wave ends sees it at its height however
      // slowly a loaded machine lets it build up.
      do {
        await sleep(5);
        const during = await scrape(registry);
        for (const name of ['wshub_sockets', 'wshub_sockets_pending_auth', 'wshub_users']) {
          expect(during.value(name)).toBeGreaterThanOrEqual(0);
        }
        peak = Math.max(peak, during.value('wshub_sockets'));
        peakPending = Math.max(peakPending, during.value('wshub_sockets_pending_auth'));
      } while (!waveEnded);
      await wave;
    }

    await until('the hub to let go of every socket', () => hub.stats().connections === 0);
    const after = await scrape(registry);
    for (const gauge of ['wshub_sockets', 'wshub_sockets_pending_auth', 'wshub_users', 'wshub_cluster_users']) {
      expect(after.value(gauge), gauge).toBe(0);
    }
    // The scrapes saw sockets open and handshakes pending: the zeros above are a return, not a flat line.
    expect(peak).toBeGreaterThan(0);
    expect(peakPending).toBeGreaterThan(0);
    const per = SOCKETS / ENDINGS.length;
    expect(after.value('wshub_auth_rejections_total')).toBe(per);
    // Hanging handshakes time out unless the client left first.
    expect(after.value('wshub_auth_timeouts_total')).toBeGreaterThanOrEqual(per);
    expect(after.value('wshub_auth_duration_seconds', { outcome: 'accepted' })).toBeGreaterThanOrEqual(3 * per);
    expect(hub.connectedUsers()).toEqual([]);
  }, 60_000);
});
