import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, NodeTracerProvider } from '@opentelemetry/sdk-trace-node';

/** What main.ts needs of the tracing it started: flushing the last spans on shutdown. */
export interface StartedTracing {
  shutdown(): Promise<void>;
}

/**
 * Traces over OTLP/HTTP (JSON), loaded by main.ts only when
 * `OTEL_EXPORTER_OTLP_ENDPOINT` is set, before the app is created: the Node
 * tracer provider (the `AsyncLocalStorage` context manager, the W3C
 * propagator), the HTTP instrumentation (each request is the root of its
 * trace), and a batch of spans sent to `<endpoint>/v1/traces`. The
 * exporter reads the standard `OTEL_EXPORTER_OTLP_*` variables itself, the
 * batch processor `OTEL_BSP_*`. The hub's own spans need nothing more: it
 * finds the registered provider (`@wshub/core`, docs/OBSERVABILITY.md).
 */
export function startTracing(env: NodeJS.ProcessEnv = process.env): StartedTracing {
  const provider = new NodeTracerProvider({
    resource: defaultResource().merge(resourceFromAttributes({ 'service.name': env.OTEL_SERVICE_NAME || 'wshub-nest-demo' })),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())],
  });
  provider.register();
  registerInstrumentations({ tracerProvider: provider, instrumentations: [new HttpInstrumentation()] });
  return provider;
}
