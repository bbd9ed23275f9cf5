/**
 * wshub through `@wshub/nest`: a small Nest app (Express) with
 * `WsModule.forRoot()`, a `ClientConnectedEvent` handler that resolves the
 * user from `?token=`, and a service that delivers with
 * `commandBus.execute(new SendMessageCommand(...))` / `new PushCommand(...)`,
 * as an app would. Measured against wshub-core.mjs, it is the cost of the
 * binding: the CommandBus and class-transformer's `instanceToPlain` (the
 * module's serializer) once per message.
 *
 * Plain .mjs has no decorator syntax and no decorator metadata, so the
 * decorators are applied by calling them, and the constructor parameter
 * names its token with `@Inject(CommandBus)`.
 */
import 'reflect-metadata';
import { Inject, Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { CommandBus, EventsHandler } from '@nestjs/cqrs';
import { ExpressAdapter } from '@nestjs/platform-express';
import { ClientConnectedEvent, PushCommand, SendMessageCommand, WsHub, WsModule } from '@wshub/nest';

/** @param {import('./contract.mjs').StartContext} ctx */
export async function start(ctx) {
  class ClientConnectedHandler {
    /** @param {ClientConnectedEvent} event */
    handle(event) {
      try {
        event.resolve(ctx.authenticate(event.incomingMessage));
      } catch (error) {
        event.reject(error);
      }
    }
  }
  Reflect.decorate([EventsHandler(ClientConnectedEvent)], ClientConnectedHandler);

  class Notifier {
    /** @param {CommandBus} commandBus */
    constructor(commandBus) {
      this.commandBus = commandBus;
    }
    toUser(userId, event, data) {
      return this.commandBus.execute(new SendMessageCommand(userId, event, data));
    }
    broadcast(event, data) {
      return this.commandBus.execute(new PushCommand(event, data));
    }
  }
  Inject(CommandBus)(Notifier, undefined, 0);
  Reflect.decorate([Injectable()], Notifier);

  class AppModule {}
  Reflect.decorate(
    [Module({ imports: [WsModule.forRoot({ path: ctx.path })], providers: [ClientConnectedHandler, Notifier] })],
    AppModule,
  );

  // The harness owns the HTTP server (it listens on it): the app serves its
  // routes and, through WsModule, its WebSocket path there.
  const app = await NestFactory.create(AppModule, new ExpressAdapter(), { logger: ['error', 'warn'] });
  const http = app.getHttpAdapter();
  http.setHttpServer(ctx.server);
  ctx.server.removeAllListeners('request');
  ctx.server.on('request', http.getInstance());
  await app.init();

  const hub = app.get(WsHub);
  let errors = 0;
  hub.on('error', () => {
    errors++;
  });
  hub.on('ready', () => ctx.onReady());
  const notifier = app.get(Notifier);
  return {
    deliver: {
      broadcast: (event, data) => notifier.broadcast(event, data),
      toUser: (userId, event, data) => notifier.toUser(userId, event, data),
    },
    close: () => app.close(),
    stats() {
      const { dropped, slowConsumers, messagesOut } = hub.stats();
      return { dropped, slowConsumers, messagesOut, errors };
    },
  };
}
