import type { ModuleMetadata } from '@nestjs/common';
import type { HubOptions, HubUser } from '@wshub/core';

/**
 * Options of `WsModule.forRoot()`: the `WsHub` options other than the
 * `authenticate` and `canWatch` hooks (those are the CQRS events). `path`
 * wins over `@wshub/nest/dist/path`; `serialize` replaces the module's
 * class-transformer conversion.
 */
export type WsModuleOptions = Pick<
  HubOptions<HubUser>,
  | 'path'
  | 'broker'
  | 'allowedOrigins'
  | 'authTimeoutMs'
  | 'watchTimeoutMs'
  | 'pushTimeoutMs'
  | 'closeTimeoutMs'
  | 'drainTimeoutMs'
  | 'pauseTimeoutMs'
  | 'refreshAheadMs'
  | 'heartbeatMs'
  | 'limits'
  | 'serialize'
  | 'recovery'
  | 'tracing'
  | 'receipts'
>;

export interface WsModuleAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  /** Providers passed to `useFactory`, in order. */
  inject?: any[];
  useFactory: (...args: any[]) => WsModuleOptions | Promise<WsModuleOptions>;
}

/** Injection token of the options `forRoot` / `forRootAsync` provide. */
export const WS_MODULE_OPTIONS = Symbol.for('@wshub/nest:options');
