import type { Hub, HubOptions, HubUser } from '@wshub/core';

/**
 * Builds the module's hub from the options it assembled (the app's options,
 * the path, and the CQRS hooks). Provide one under {@link WS_HUB_FACTORY} to
 * run the module on core's `Hub` behind another transport —
 * `@wshub/testing/nest` runs it on a `FakeHub`. Without one, the module
 * builds a `WsHub`.
 */
export type WsHubFactory = (options: HubOptions<HubUser, any>) => Hub<HubUser, any>;

/** Injection token of an optional {@link WsHubFactory}. */
export const WS_HUB_FACTORY = Symbol.for('@wshub/nest:hub-factory');
