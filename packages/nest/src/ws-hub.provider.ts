import { type FactoryProvider, Logger } from '@nestjs/common';
import { ModulesContainer } from '@nestjs/core';
import { EventBus } from '@nestjs/cqrs';
import { type HubUser, WsHub } from '@wshub/core';
import { createHubHooks } from './hub-hooks.js';
import { publishHubNotifications } from './hub-notifications.js';
import { defaultSerializer } from './to-plain.js';
import { WS_HUB_FACTORY, type WsHubFactory } from './ws-hub-factory.js';
import { wsPath } from './path.js';
import { WS_MODULE_OPTIONS, type WsModuleOptions } from './ws-module-options.js';

/**
 * The app's one `WsHub`, injectable as `WsHub`. Its path is, in order:
 * `forRoot({ path })`, `@wshub/nest/dist/path`, the default `/api/v1/ws`.
 * Its `serialize` is `forRoot({ serialize })` or class-transformer's (see to-plain.ts).
 */
export const wsHubProvider: FactoryProvider<WsHub<HubUser>> = {
  provide: WsHub,
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
    // Another HubCore (a test fake) has the same rules and events, not the HTTP side.
    const hub = (factory ? factory(hubOptions) : new WsHub<HubUser>(hubOptions)) as WsHub<HubUser>;
    publishHubNotifications(hub, eventBus, logger);
    return hub;
  },
};
