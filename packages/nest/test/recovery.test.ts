/** forRoot({ recovery }) reaches the hub: a v2 client that reconnects gets what it missed. */
import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { SendMessageCommand, WsModule } from '@wshub/nest';
import { describe, expect, it } from 'vitest';
import { TestSocket } from '@wshub/test-support';
import { TokenAuthHandler } from './fixtures/token-auth.handler.js';
import { startApp } from './support/start-app.js';

/** A protocol v2 socket, open. */
async function openV2(url: string): Promise<TestSocket> {
  const socket = new TestSocket(url, { protocols: ['wshub'] });
  await socket.opened;
  return socket;
}

describe('WsModule.forRoot({ recovery })', () => {
  @Module({ imports: [WsModule.forRoot({ recovery: { maxMessages: 10 } })], providers: [TokenAuthHandler] })
  class App {}

  it('keeps a history: a client that reconnects resumes and gets what it missed, in order', async () => {
    const running = await startApp(App);
    try {
      const url = running.wsUrl('/api/v1/ws', 'user=amy');
      const first = await openV2(url);
      const welcome = await first.next();
      expect(welcome).toMatchObject({ event: 'wshub:welcome', data: { protocol: 2, recovery: { epoch: expect.any(String), offset: 0 } } });
      const bus = running.app.get(CommandBus);
      await bus.execute(new SendMessageCommand('amy', 'order', { status: 'paid' }));
      const seen = await first.next();
      expect(seen).toMatchObject({ event: 'order', offset: 1 });
      first.close();
      await first.waitForClose();
      await bus.execute(new SendMessageCommand('amy', 'order', { status: 'shipped' }));
      const back = await openV2(url);
      expect((await back.next()).event).toBe('wshub:welcome');
      const answer = await back.request('wshub:resume', { epoch: welcome.data.recovery.epoch, offset: 1 });
      expect(back.unread).toEqual([{ event: 'order', data: { status: 'shipped' }, offset: 2 }]);
      expect(answer).toMatchObject({ op: 'resume', status: 'recovered', missed: 1 });
      back.close();
    } finally {
      await running.close();
    }
  });
});
