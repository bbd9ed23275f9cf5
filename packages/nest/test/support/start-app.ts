import type { AddressInfo } from 'node:net';
import type { INestApplication, LoggerService, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { TestSocket as TestClient } from '@wshub/test-support';

export interface StartOptions {
  platform?: 'express' | 'fastify';
  logger?: LoggerService | false;
  /** Runs before `listen`, e.g. to set a WebSocket adapter. */
  configure?: (app: INestApplication) => void;
}

export interface RunningApp {
  app: INestApplication;
  port: number;
  /** `ws://127.0.0.1:<port><path>?<query>` */
  wsUrl(path: string, query?: string): string;
  httpUrl(path: string): string;
  /** A client; closed by `close()`. */
  connect(path: string, query?: string): TestClient;
  /** Terminates the clients, then `app.close()`. */
  close(): Promise<void>;
}

/** Boots an app the way users do (`NestFactory.create` + `listen`) on 127.0.0.1, port 0. */
export async function startApp(module: Type<unknown>, options: StartOptions = {}): Promise<RunningApp> {
  const app =
    options.platform === 'fastify'
      ? await NestFactory.create(module, new FastifyAdapter(), { logger: options.logger ?? false })
      : await NestFactory.create(module, { logger: options.logger ?? false });
  options.configure?.(app);
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  const clients: TestClient[] = [];
  let closed = false;
  return {
    app,
    port,
    wsUrl: (path, query) => `ws://127.0.0.1:${port}${path}${query ? `?${query}` : ''}`,
    httpUrl: (path) => `http://127.0.0.1:${port}${path}`,
    connect(path, query) {
      const client = new TestClient(`ws://127.0.0.1:${port}${path}${query ? `?${query}` : ''}`);
      clients.push(client);
      return client;
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const client of clients) client.ws.terminate();
      await app.close();
    },
  };
}
