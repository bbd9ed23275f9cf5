import { Test, TestingModule } from '@nestjs/testing';
import { CloseCode } from '@wshub/core/protocol';
import { ConnectionRefusedError, FakeHub, FakeHubModule } from '@wshub/testing/nest';
import { AppModule } from './app.module';
import { OrdersService } from './orders.service';

describe('AppModule on a FakeHub', () => {
  let moduleRef: TestingModule;

  beforeEach(async () => {
    moduleRef = await Test.createTestingModule({ imports: [AppModule, FakeHubModule] }).compile();
    await moduleRef.init();
  });

  afterEach(async () => {
    await moduleRef.close();
  });

  it('authorizes by token, applies the watch rule and delivers an order update', async () => {
    const hub = moduleRef.get(FakeHub);
    const phone = await hub.connect({ query: { token: 'bob-token' } });
    expect(await phone.watch('order-status', 42)).toBe('allowed');
    expect(await phone.watch('order-status', 7)).toBe('forbidden');
    await moduleRef.get(OrdersService).ship(42);
    expect(hub.deliveries).toEqual([
      { userId: 'bob', deviceFingerprint: 'phone', socketId: phone.id, event: 'order-status', data: { orderId: 42, status: 'shipped' } },
    ]);
  });

  it('refuses an unknown token with 4403', async () => {
    const refused = moduleRef.get(FakeHub).connect({ query: { token: 'stolen' } });
    await expect(refused).rejects.toBeInstanceOf(ConnectionRefusedError);
    await expect(refused).rejects.toMatchObject({ code: CloseCode.Forbidden });
  });
});
