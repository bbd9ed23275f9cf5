import { type FactoryProvider, Logger } from '@nestjs/common';
import { ModulesContainer } from '@nestjs/core';
import { EventBus } from '@nestjs/cqrs';
import { type HubUser, WsHub } from '@wshub/core';
import { createHubHooks } from './hub-hooks.js';
import { publishHubNotifications } from './hub-notifications.js';
import { wsPath } from './path.js';
import { WS_MODULE_OPTIONS, type WsModuleOptions } from './ws-module-options.js';

/**
 * The app's one `WsHub`, injectable as `WsHub`. Its path is, in order:
 * `forRoot({ path })`, `@wshub/nest/dist/path`, the default `/api/v1/ws`.
 */
export const wsHubProvider: FactoryProvider<WsHub<HubUser>> = {
  provide: WsHub,
  inject: [EventBus, ModulesContainer, { token: WS_MODULE_OPTIONS, optional: true }],
  useFactory(eventBus: EventBus, modules: ModulesContainer, options: WsModuleOptions | undefined) {
    const logger = new Logger('WsModule');
    const hub = new WsHub<HubUser>({
      ...options,
      path: options?.path ?? wsPath.path,
      ...createHubHooks(eventBus, modules, logger),
    });
    publishHubNotifications(hub, eventBus, logger);
    return hub;
  },
};
