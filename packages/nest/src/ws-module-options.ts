import type { ModuleMetadata } from '@nestjs/common';
import type { HubOptions, HubUser } from '@wshub/core';

/**
 * Options of `WsModule.forRoot()`: the `WsHub` options that are not hooks
 * (the hooks are the CQRS events). `path` wins over `@wshub/nest/dist/path`.
 */
export type WsModuleOptions = Pick<
  HubOptions<HubUser>,
  'path' | 'broker' | 'allowedOrigins' | 'authTimeoutMs' | 'watchTimeoutMs' | 'heartbeatMs' | 'limits'
>;

export interface WsModuleAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  /** Providers passed to `useFactory`, in order. */
  inject?: any[];
  useFactory: (...args: any[]) => WsModuleOptions | Promise<WsModuleOptions>;
}

/** Injection token of the options `forRoot` / `forRootAsync` provide. */
export const WS_MODULE_OPTIONS = Symbol.for('@wshub/nest:options');
