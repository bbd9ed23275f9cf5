/** forRoot({ recovery }) reaches the hub: a v2 client that reconnects gets what it missed. */
import 'reflect-metadata';
import { once } from 'node:events';
import { Module } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { SendMessageCommand, WsModule } from '@wshub/nest';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { TokenAuthHandler } from './fixtures/token-auth.handler.js';
import { startApp } from './support/start-app.js';

interface Frame {
  event: string;
  data: any;
  offset?: number;
}

/** A protocol v2 socket and the frames it received, in order. */
async function openV2(url: string): Promise<{ ws: WebSocket; next: () => Promise<Frame> }> {
  const ws = new WebSocket(url, ['wshub']);
  const frames: Frame[] = [];
  let wake: (() => void) | undefined;
  ws.on('message', (data) => {
    frames.push(JSON.parse(String(data)));
    wake?.();
  });
  const next = async (): Promise<Frame> => {
    while (frames.length === 0) await new Promise<void>((resolve) => (wake = resolve));
    return frames.shift()!;
  };
  await once(ws, 'open');
  return { ws, next };
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
      first.ws.close();
      await once(first.ws, 'close');
      await bus.execute(new SendMessageCommand('amy', 'order', { status: 'shipped' }));
      const back = await openV2(url);
      expect((await back.next()).event).toBe('wshub:welcome');
      back.ws.send(JSON.stringify({ event: 'wshub:resume', id: 1, data: { epoch: welcome.data.recovery.epoch, offset: 1 } }));
      expect(await back.next()).toEqual({ event: 'order', data: { status: 'shipped' }, offset: 2 });
      expect(await back.next()).toMatchObject({ event: 'wshub:ack', data: { id: 1, op: 'resume', status: 'recovered', missed: 1 } });
      back.ws.close();
    } finally {
      await running.close();
    }
  });
});
