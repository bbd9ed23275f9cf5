/**
 * wshub with its Prometheus metrics on: `WsHub` as in `wshub-core.mjs`, plus
 * `collectHubMetrics` from `@wshub/prometheus` on a prom-client registry
 * that is scraped once a second (Prometheus scrapes every 15–60 s; once a
 * second puts the collection cost inside every measured round). Its ratio to
 * `wshub` is what the metrics cost on the hot path.
 */
import { WsHub } from '@wshub/core';
import { collectHubMetrics } from '@wshub/prometheus';
import { Registry } from 'prom-client';

const SCRAPE_EVERY_MS = 1000;

/** @param {import('./contract.mjs').StartContext} ctx */
export async function start(ctx) {
  const hub = new WsHub({
    path: ctx.path,
    authenticate: ctx.authenticate,
    canWatch: () => {
      ctx.onWatch();
      return true;
    },
  });
  let errors = 0;
  hub.on('error', () => {
    errors++;
  });
  hub.on('ready', () => ctx.onReady());
  hub.attach(ctx.server);
  const registry = new Registry();
  const removeMetrics = collectHubMetrics(hub, { registry });
  let scrapes = 0;
  const scraper = setInterval(() => {
    void registry.metrics().then(() => {
      scrapes++;
    });
  }, SCRAPE_EVERY_MS);
  return {
    deliver: {
      broadcast: (event, data) => hub.push(event, data),
      toUser: (userId, event, data) => hub.sendMessage(userId, event, data),
      pushAllow: (event, data, allow) => hub.push(event, data, allow),
      scoped: (event, scope, data) => hub.push(event, data, undefined, scope),
    },
    async close() {
      clearInterval(scraper);
      removeMetrics();
      await hub.close();
    },
    stats() {
      const { dropped, slowConsumers, messagesOut } = hub.stats();
      return { dropped, slowConsumers, messagesOut, errors, scrapes };
    },
  };
}
