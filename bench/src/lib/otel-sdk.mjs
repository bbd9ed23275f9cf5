/**
 * The OpenTelemetry SDK as `@opentelemetry/sdk-node` sets it up, for the
 * benchmarks that measure tracing: a `BasicTracerProvider` with a
 * `BatchSpanProcessor` whose exporter drops every batch (counting its
 * spans), and the `AsyncLocalStorage` context manager, registered globally.
 * Import it dynamically where `@opentelemetry/api` may be hidden.
 */
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler } from '@opentelemetry/sdk-trace-base';

/**
 * @param {object} [options]
 * @param {number} [options.sampled] the share of traces recorded (a parent-based ratio sampler); every one when left out
 * @param {object} [options.batch] the `BatchSpanProcessor`'s options; its defaults when left out
 */
export function setUpSdk({ sampled, batch } = {}) {
  let exported = 0;
  const dropAll = {
    export(spans, done) {
      exported += spans.length;
      done({ code: 0 });
    },
    shutdown: () => Promise.resolve(),
  };
  const processor = new BatchSpanProcessor(dropAll, batch);
  const sampler = sampled === undefined ? undefined : new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(sampled) });
  const provider = new BasicTracerProvider({ spanProcessors: [processor], ...(sampler && { sampler }) });
  trace.setGlobalTracerProvider(provider);
  setUpContextManager();
  return {
    /** Spans exported so far (after flushing what the processor holds). */
    async exported() {
      await processor.forceFlush();
      return exported;
    },
    /** Spans exported so far, without flushing. */
    exportedSoFar: () => exported,
    shutdown: () => provider.shutdown(),
  };
}

/**
 * Only the SDK's context manager (`AsyncLocalStorage`), registered globally
 * and made to hold a context once, as the first instrumented request of an
 * app would: no tracer provider, so no span is made.
 */
export function setUpContextManager() {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  context.with(context.active().setValue(Symbol('bench'), true), () => {});
}
