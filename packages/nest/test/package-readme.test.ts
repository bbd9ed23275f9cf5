/** The first example of this package's README, with a real client doing what its browser snippet does. */
import 'reflect-metadata';
import { describe, expect, it } from 'vitest';
import { AppModule, OrderNotifier } from './fixtures/package-readme/app.module.js';
import { startApp } from './support/start-app.js';

describe("the package README's first example", () => {
  it('authorizes by token, and delivers an order update to the socket watching that order', async () => {
    const running = await startApp(AppModule);
    try {
      const client = running.connect('/api/v1/ws', 'token=secret');
      await client.opened;
      client.watch('order-status', '42');
      // Frames are handled in order: the refused watch reply of a second, unscoped request proves the first was applied.
      client.emit('watch', { event: 42 });
      expect((await client.next()).event).toBe('exception');
      await running.app.get(OrderNotifier).shipped('user-1', 42);
      expect(await client.next()).toEqual({ event: 'order-status', data: { id: 42, status: 'shipped' } });
      expect((await running.connect('/api/v1/ws', 'token=wrong').waitForClose()).code).toBe(4403);
    } finally {
      await running.close();
    }
  });
});
