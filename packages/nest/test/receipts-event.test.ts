/** MessageDeliveredEvent and MessageUndeliveredEvent: the hub's receipts as CQRS events. */
import 'reflect-metadata';
import { Injectable, Module } from '@nestjs/common';
import { CommandBus, EventsHandler, type IEventHandler } from '@nestjs/cqrs';
import { MessageDeliveredEvent, MessageUndeliveredEvent, SendMessageCommand, WsModule } from '@wshub/nest';
import { TestSocket } from '@wshub/test-support';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenAuthHandler } from './fixtures/token-auth.handler.js';
import { type RunningApp, startApp } from './support/start-app.js';

const PATH = '/api/v1/ws';

@Injectable()
@EventsHandler(MessageDeliveredEvent, MessageUndeliveredEvent)
class ReceiptRecorder implements IEventHandler<MessageDeliveredEvent | MessageUndeliveredEvent> {
  readonly delivered: MessageDeliveredEvent[] = [];
  readonly undelivered: MessageUndeliveredEvent[] = [];
  handle(event: MessageDeliveredEvent | MessageUndeliveredEvent): void {
    if (event instanceof MessageDeliveredEvent) this.delivered.push(event);
    else this.undelivered.push(event);
  }
}

@Module({
  imports: [WsModule.forRoot({ receipts: { undeliveredAfterMs: 300 } })],
  providers: [TokenAuthHandler, ReceiptRecorder],
})
class ReceiptsApp {}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('MessageDeliveredEvent / MessageUndeliveredEvent', () => {
  let running: RunningApp;
  let recorder: ReceiptRecorder;

  beforeAll(async () => {
    running = await startApp(ReceiptsApp);
    recorder = running.app.get(ReceiptRecorder);
  });
  afterAll(async () => {
    await running?.close();
  });

  it('a device that confirms: MessageDeliveredEvent; nobody online: MessageUndeliveredEvent once', async () => {
    const phone = new TestSocket(running.wsUrl(PATH, 'user=ann&device=phone'), { protocols: ['wshub'] });
    expect((await phone.next()).event).toBe('wshub:welcome');
    const commands = running.app.get(CommandBus);
    const id: string = await commands.execute(new SendMessageCommand('ann', 'notification', { text: 'shipped' }));
    const message = await phone.next();
    expect(message).toEqual({ event: 'notification', data: { text: 'shipped' }, id });
    phone.emit('wshub:confirm', { ids: [id] });
    await until(() => recorder.delivered.length === 1, 'delivered');
    expect(recorder.delivered[0]).toMatchObject({ id, userId: 'ann', deviceFingerprint: 'phone', event: 'notification', late: false });

    const away: string = await commands.execute(new SendMessageCommand('nobody', 'notification', { text: 'hi' }));
    await until(() => recorder.undelivered.length === 1, 'undelivered');
    expect(recorder.undelivered[0]).toEqual(new MessageUndeliveredEvent(away, 'nobody', 'notification', { text: 'hi' }, null));
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(recorder.undelivered).toHaveLength(1);
    phone.ws.terminate();
  });
});
