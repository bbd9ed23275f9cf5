import { type DynamicModule, Module, type Provider } from '@nestjs/common';
import { WS_HUB_FACTORY, WsHub, WsModule, type WsModuleAsyncOptions, type WsModuleOptions } from '@wshub/nest';
import { FakeHub } from '../fake-hub.js';

/**
 * `@wshub/nest`'s own module, with its hub built as a `FakeHub`: the same
 * command handlers, the same CQRS events for the hooks, the same options —
 * only the hub has no network. `FakeHub` is injectable (the same instance
 * as `WsHub`).
 */
function withFakeHub(module: DynamicModule): DynamicModule {
  const providers: Provider[] = [
    { provide: WS_HUB_FACTORY, useValue: (options: ConstructorParameters<typeof FakeHub>[0]) => new FakeHub(options) },
    { provide: FakeHub, useExisting: WsHub },
  ];
  return {
    ...module,
    providers: [...(module.providers ?? []), ...providers],
    exports: [...(module.exports ?? []), FakeHub],
  };
}

/**
 * A drop-in for `WsModule` in `Test.createTestingModule({ imports: [...] })`:
 * `WsTestingModule` for `WsModule`, `WsTestingModule.forRoot(options)` and
 * `forRootAsync(...)` for theirs. The app's `ClientConnectedEvent`,
 * `IsAllowedToWatchEvent`, `ClientReadyEvent` and `ClientDisconnectedEvent`
 * handlers run for real; `SendMessageCommand`, `PushCommand`,
 * `DisconnectWsClientCommand` and `UpdateWsClientCommand` reach the `FakeHub`.
 *
 * ```ts
 * const moduleRef = await Test.createTestingModule({ imports: [OrdersModule, WsTestingModule] }).compile();
 * const hub = moduleRef.get(FakeHub);
 * const phone = await hub.connect({ query: { token: 'bob-token' } }); // your ClientConnectedEvent handler decides
 * ```
 */
@Module({ imports: [withFakeHub({ module: WsModule })] })
export class WsTestingModule {
  /** As `WsModule.forRoot(options)`; e.g. `{ authTimeoutMs: 100 }` to see 4408 quickly. */
  static forRoot(options: WsModuleOptions = {}): DynamicModule {
    return withFakeHub(WsModule.forRoot(options));
  }

  /** As `WsModule.forRootAsync(...)`. */
  static forRootAsync(options: WsModuleAsyncOptions): DynamicModule {
    return withFakeHub(WsModule.forRootAsync(options));
  }
}
