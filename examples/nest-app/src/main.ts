import 'reflect-metadata';
import type { AddressInfo } from 'node:net';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { WsHub } from '@wshub/nest';
import { AppModule } from './app.module.js';
import { servePage } from './serve-page.js';

const DEFAULT_PORT = 3000;

function portFromEnv(value: string | undefined): number {
  if (value === undefined || value === '') return DEFAULT_PORT;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`PORT must be an integer from 0 to 65535, got ${JSON.stringify(value)}`);
  }
  return port;
}

async function main(): Promise<void> {
  const port = portFromEnv(process.env.PORT);
  // Traces over OTLP only when asked for: without the variable no OpenTelemetry SDK is loaded at all.
  // Before the app is created, so the HTTP instrumentation sees the server Nest makes.
  const endpoint = process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
  const tracing = endpoint ? (await import('./tracing.js')).startTracing() : undefined;
  // forceCloseConnections: on shutdown, keep-alive HTTP connections are closed too. Without it, a page
  // that keeps polling (the live panel, token renewals) holds one open and app.close() never returns.
  const app = await NestFactory.create<NestExpressApplication>(AppModule, { forceCloseConnections: true });
  // The page: plain HTML and a script on @wshub/client, no build step.
  servePage(app);
  await app.listen(port);
  // Close the app on Ctrl-C / SIGTERM: clients get 1001, ClientDisconnectedEvent handlers run and
  // /health/ready answers 503 while the hub drains. Without this (or app.enableShutdownHooks(), which
  // `nest new` does not add) the signal ends the process at once and clients get 1006. This is
  // enableShutdownHooks() plus two things a demo run by `npm start` needs: a repeated signal is ignored
  // (Ctrl-C reaches the server twice, from the terminal and from npm; the second would kill it
  // mid-drain), and the process exits 0.
  let closing = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (closing) return;
      closing = true;
      // The spans of the last requests go before the process ends.
      void app
        .close()
        .then(() => tracing?.shutdown())
        .then(() => process.exit(0));
    });
  }
  const base = `http://localhost:${(app.getHttpServer().address() as AddressInfo).port}`;
  const wsPath = app.get(WsHub).path;
  process.stdout.write(
    [
      `wshub NestJS demo: ${base}`,
      '',
      `  Open ${base} in a browser, pick a user (alice is an admin, bob and carol are users),`,
      '  watch an order (bob owns 42 and 43, carol owns 7, alice owns 1), then change its status:',
      '',
      `    curl -X POST ${base}/orders/42/status -H 'content-type: application/json' -d '{"status":"shipped"}'`,
      `    curl -X POST ${base}/announcements -H 'content-type: application/json' -d '{"text":"Maintenance in 10 minutes"}'`,
      '',
      `  WebSocket: ${base.replace('http', 'ws')}${wsPath}?token=bob-token`,
      '',
      ...(tracing ? [`  Traces: OTLP/HTTP to ${endpoint}`, ''] : []),
    ].join('\n'),
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
