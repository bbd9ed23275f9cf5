/**
 * The demo's traces over OTLP/HTTP: with `OTEL_EXPORTER_OTLP_ENDPOINT` set,
 * the compiled demo (started as `npm start` runs it) sends its spans to
 * `<endpoint>/v1/traces` as OTLP JSON; here the endpoint is an HTTP server
 * of the test's own. Without the variable, no OpenTelemetry SDK package is
 * loaded at all.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DemoProcess } from './demo-process.js';

const reportModules = fileURLToPath(new URL('./fixtures/report-otel-modules.cjs', import.meta.url));

interface OtlpSpan {
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  kind: number;
  attributes?: { key: string; value: Record<string, unknown> }[];
  links?: { traceId: string; spanId: string }[];
}

interface OtlpRequest {
  resourceSpans: { resource?: { attributes?: OtlpSpan['attributes'] }; scopeSpans: { scope?: { name: string }; spans: OtlpSpan[] }[] }[];
}

/** The SDK packages a demo process loaded, from the line the preload writes at exit. */
function sdkModules(demo: DemoProcess): string[] {
  const line = /otel-sdk-modules: (.*)/.exec(demo.output)?.[1];
  if (!line) throw new Error(`no module report in the demo's output:\n${demo.output}`);
  return JSON.parse(line) as string[];
}

const attribute = (span: OtlpSpan, key: string) => span.attributes?.find((a) => a.key === key)?.value;

describe('OTEL_EXPORTER_OTLP_ENDPOINT set: traces over OTLP/HTTP', () => {
  const requests: { path: string; contentType: string | undefined; body: OtlpRequest }[] = [];
  let collector: Server;
  let demo: DemoProcess;

  beforeAll(async () => {
    collector = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        requests.push({ path: req.url ?? '', contentType: req.headers['content-type'], body: JSON.parse(Buffer.concat(chunks).toString()) });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    const endpoint = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
    demo = await DemoProcess.start(0, 90_000, {
      OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
      OTEL_BSP_SCHEDULE_DELAY: '100',
      NODE_OPTIONS: `--require ${reportModules}`,
    });
  });

  afterAll(async () => {
    await demo?.stop();
    collector?.close();
  });

  it('an order status change: the request span, and the wshub.send the outbox relay makes, linked to it', async () => {
    expect(demo.output).toContain('Traces: OTLP/HTTP to http://127.0.0.1:');
    const response = await fetch(`${demo.base}/orders/42/status`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ status: 'shipped' }),
    });
    expect(response.status).toBe(202);

    const spans = () => requests.flatMap((r) => r.body.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans)));
    const post = () => spans().find((s) => attribute(s, 'url.path')?.stringValue === '/orders/42/status');
    await expect.poll(() => spans().some((s) => s.name === 'wshub.send') && post() !== undefined, { timeout: 20_000 }).toBe(true);

    expect(requests.every((r) => r.path === '/v1/traces' && r.contentType === 'application/json')).toBe(true);
    const service = requests[0]!.body.resourceSpans[0]!.resource?.attributes?.find((a) => a.key === 'service.name')?.value;
    expect(service).toEqual({ stringValue: 'wshub-nest-demo' });

    const send = spans().find((s) => s.name === 'wshub.send' && attribute(s, 'messaging.destination.name')?.stringValue === 'order-status')!;
    expect(send).toBeDefined();
    expect(attribute(send, 'wshub.operation')).toEqual({ stringValue: 'sendMessage' });
    // The relay sends after the commit, in a trace of its own, linked to the request that wrote the row.
    expect(send.links?.map((l) => l.traceId)).toContain(post()!.traceId);
  });

  it('the process loaded the SDK, and exits 0 on SIGTERM', async () => {
    expect(await demo.stop()).toBe(0);
    expect(sdkModules(demo)).toEqual(expect.arrayContaining(['@opentelemetry/sdk-trace-node', '@opentelemetry/exporter-trace-otlp-http']));
  });
});

describe('OTEL_EXPORTER_OTLP_ENDPOINT unset', () => {
  let demo: DemoProcess;

  beforeAll(async () => {
    // Empty is unset, whatever the test's own environment has.
    demo = await DemoProcess.start(0, 90_000, { OTEL_EXPORTER_OTLP_ENDPOINT: '', NODE_OPTIONS: `--require ${reportModules}` });
  });

  afterAll(async () => {
    await demo?.stop();
  });

  it('loads no OpenTelemetry SDK package', async () => {
    expect(demo.output).not.toContain('Traces:');
    expect(await demo.stop()).toBe(0);
    expect(sdkModules(demo)).toEqual([]);
  });
});
