import { type FactoryProvider, Logger } from '@nestjs/common';
import { ModulesContainer } from '@nestjs/core';
import { EventBus } from '@nestjs/cqrs';
import { Hub, type HubUser, WsHub } from '@wshub/core';
import { createHubHooks } from './hub-hooks.js';
import { publishHubNotifications } from './hub-notifications.js';
import { defaultSerializer } from './to-plain.js';
import { WS_HUB_FACTORY, type WsHubFactory } from './ws-hub-factory.js';
import { wsPath } from './path.js';
import { WS_MODULE_OPTIONS, type WsModuleOptions } from './ws-module-options.js';

/**
 * The app's one hub, injectable as `Hub` (core's hub, whatever the
 * transport: a `WsHub` in the app, a `FakeHub` under `@wshub/testing/nest`).
 * Its path is, in order: `forRoot({ path })`, `@wshub/nest/dist/path`, the
 * default `/api/v1/ws`. Its `serialize` is `forRoot({ serialize })` or
 * class-transformer's (see to-plain.ts).
 */
export const hubProvider: FactoryProvider<Hub<HubUser>> = {
  provide: Hub,
  inject: [
    EventBus,
    ModulesContainer,
    { token: WS_MODULE_OPTIONS, optional: true },
    { token: WS_HUB_FACTORY, optional: true },
  ],
  useFactory(
    eventBus: EventBus,
    modules: ModulesContainer,
    options: WsModuleOptions | undefined,
    factory: WsHubFactory | undefined,
  ) {
    const logger = new Logger('WsModule');
    const hooks = createHubHooks(eventBus, modules, logger);
    const hubOptions = {
      ...options,
      ...hooks,
      path: options?.path ?? wsPath.path,
      // class-transformer is loaded only for the default, and then at once.
      serialize: options?.serialize ?? defaultSerializer(),
    };
    // A factory's hub (a test fake) has the same rules and events, not the HTTP side.
    const hub = factory ? factory(hubOptions) : new WsHub<HubUser>(hubOptions);
    publishHubNotifications(hub, eventBus, logger);
    return hub;
  },
};

/**
 * `WsHub`, injectable as such when the module runs on `ws` (the hub with
 * `attach`/`handleUpgrade`). Under a hub factory (a test fake) there is no
 * `WsHub`: what is injected under that token fails on first use with a
 * sentence saying to inject `Hub`. (Nest builds every provider up front, so
 * the token cannot simply be missing.)
 */
export const wsHubProvider: FactoryProvider<WsHub<HubUser>> = {
  provide: WsHub,
  inject: [Hub],
  useFactory(hub: Hub<HubUser>) {
    if (hub instanceof WsHub) return hub;
    const message = `@wshub/nest: WsHub was injected, but this module runs on ${hub.constructor.name} (a hub factory replaced the WebSocket transport); inject Hub, which both are, instead`;
    return new Proxy({} as WsHub<HubUser>, {
      get(_target, key) {
        // What Nest itself looks up on every provider (lifecycle hooks, thenables) is simply absent.
        if (typeof key === 'symbol' || key === 'then' || NEST_LOOKUPS.has(key)) return undefined;
        throw new TypeError(message);
      },
    });
  },
};

const NEST_LOOKUPS: ReadonlySet<string> = new Set([
  'onModuleInit',
  'onApplicationBootstrap',
  'onModuleDestroy',
  'beforeApplicationShutdown',
  'onApplicationShutdown',
  'constructor',
]);
