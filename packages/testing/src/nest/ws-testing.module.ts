import { type DynamicModule, Global, Module, type Provider } from '@nestjs/common';
import { Hub, WS_HUB_FACTORY, WsModule, type WsModuleAsyncOptions, type WsModuleOptions } from '@wshub/nest';
import type { Broker, BrokerBus, HubUser } from '@wshub/core';
import { FakeHub, type FakeHubOptions } from '../fake-hub.js';

/**
 * The fake of a Nest app: always on the in-memory single-node broker, whatever
 * `broker` the app's `WsModule` options name — a unit test must not reach
 * Redis. The app's own broker, already built by its module code, is closed
 * unused when the fake closes, so its connections do not outlive the test.
 */
class ModuleFakeHub extends FakeHub<HubUser> {
  constructor(
    options: FakeHubOptions<HubUser>,
    private readonly unusedBroker: Broker | BrokerBus | undefined,
  ) {
    super(options);
  }

  override async close(): Promise<void> {
    await super.close();
    // Never attached, so it has nobody to report to; a failure to close it is not the test's concern.
    await this.unusedBroker?.close?.().catch(() => {});
  }
}

function createFakeHub({ broker, ...options }: FakeHubOptions<HubUser>): FakeHub<HubUser> {
  return new ModuleFakeHub(options, broker);
}

/** `@wshub/nest` builds its hub with this factory when one is provided; `FakeHub` names that same instance. */
const fakeHubProviders: Provider[] = [
  { provide: WS_HUB_FACTORY, useValue: createFakeHub },
  { provide: FakeHub, useExisting: Hub },
];

function withFakeHub(module: DynamicModule): DynamicModule {
  return {
    ...module,
    providers: [...(module.providers ?? []), ...fakeHubProviders],
    exports: [...(module.exports ?? []), FakeHub],
  };
}

/**
 * A drop-in for `WsModule` in `Test.createTestingModule({ imports: [...] })`:
 * `WsTestingModule` for `WsModule`, `WsTestingModule.forRoot(options)` and
 * `forRootAsync(...)` for theirs. It is `@wshub/nest`'s own module — the same
 * command handlers, the same CQRS events for the hooks, the same options —
 * with its hub built as a `FakeHub`, injectable as `FakeHub` (the same
 * instance as `Hub`; injecting `WsHub` fails with a sentence saying to inject `Hub`).
 *
 * ```ts
 * const moduleRef = await Test.createTestingModule({ imports: [OrdersModule, WsTestingModule] }).compile();
 * await moduleRef.init();
 * const phone = await moduleRef.get(FakeHub).connect({ query: { token: 'bob-token' } }); // your ClientConnectedEvent handler decides
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

/**
 * For a whole app: import it next to an app module that imports `WsModule`
 * in any form, and that `WsModule` builds its hub as a `FakeHub` on the
 * in-memory broker (the app's `broker` option is not used, and is closed
 * with the module).
 *
 * ```ts
 * Test.createTestingModule({ imports: [AppModule, FakeHubModule] })
 * ```
 */
@Global()
@Module({ providers: fakeHubProviders, exports: [WS_HUB_FACTORY, FakeHub] })
export class FakeHubModule {}
