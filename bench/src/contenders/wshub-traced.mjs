/**
 * wshub with OpenTelemetry tracing on: `WsHub` as in `wshub-core.mjs`, in a
 * process where the SDK is set up as `@opentelemetry/sdk-node` sets it up —
 * a `BasicTracerProvider` with a `BatchSpanProcessor` at its defaults and
 * the `AsyncLocalStorage` context manager — with an exporter that drops
 * every batch. Every `hub.push` / `hub.sendMessage` is one `wshub.send`
 * span (a root: the bench has no request around it). `wshub-traced-10.mjs` records one trace in ten, as
 * `OTEL_TRACES_SAMPLER=parentbased_traceidratio` does. Its ratio to `wshub`
 * is what tracing costs on the hot path.
 */
import { setUpSdk } from '../lib/otel-sdk.mjs';
import { start as startCore } from './wshub-core.mjs';

/** @param {import('./contract.mjs').StartContext} ctx */
export const start = (ctx) => startTraced(ctx);

/**
 * @param {import('./contract.mjs').StartContext} ctx
 * @param {number} [sampled] the share of traces recorded; every one when left out
 */
export async function startTraced(ctx, sampled) {
  const sdk = setUpSdk({ sampled });
  const hub = await startCore(ctx);
  return {
    ...hub,
    async close() {
      await hub.close();
      await sdk.shutdown();
    },
    stats: () => ({ ...hub.stats(), spans: sdk.exportedSoFar() }),
  };
}
