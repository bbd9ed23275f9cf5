/** UserPresenceChangedEvent: the hub's 'presence' notification as a CQRS event, once per change in the cluster. */
import 'reflect-metadata';
import { Injectable, Module } from '@nestjs/common';
import { EventsHandler, type IEventHandler } from '@nestjs/cqrs';
import { InMemoryBroker, InMemoryBus } from '@wshub/core';
import { UserPresenceChangedEvent, WsHub, WsModule } from '@wshub/nest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenAuthHandler } from './fixtures/token-auth.handler.js';
import { type RunningApp, startApp } from './support/start-app.js';

const PATH = '/api/v1/ws';

/** What an app writes to keep "online" badges: one handler, called once per change. */
@Injectable()
@EventsHandler(UserPresenceChangedEvent)
class PresenceRecorder implements IEventHandler<UserPresenceChangedEvent> {
  readonly seen: string[] = [];
  handle(event: UserPresenceChangedEvent): void {
    this.seen.push(`${event.userId}:${event.online ? 'online' : 'offline'}`);
  }
}

/** Two instances of one app on a shared in-memory bus: a cluster of two nodes in one process. */
const bus = new InMemoryBus();
function appModule() {
  @Module({
    imports: [WsModule.forRoot({ broker: new InMemoryBroker(bus) })],
    providers: [TokenAuthHandler, PresenceRecorder],
  })
  class PresenceApp {}
  return PresenceApp;
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('UserPresenceChangedEvent', () => {
  let one: RunningApp;
  let two: RunningApp;
  let seen: () => string[];

  beforeAll(async () => {
    one = await startApp(appModule());
    two = await startApp(appModule());
    const recorders = [one, two].map((running) => running.app.get(PresenceRecorder));
    seen = () => recorders.flatMap((recorder, i) => recorder.seen.map((change) => `${i + 1} ${change}`));
  });
  afterAll(async () => {
    await one?.close();
    await two?.close();
  });

  it('is published once when the first socket anywhere connects and once when the last one closes', async () => {
    const phone = one.connect(PATH, 'user=ann&device=phone');
    await until(() => seen().length === 1, 'online');
    expect(seen()).toEqual(['1 ann:online']);
    const laptop = two.connect(PATH, 'user=ann&device=laptop');
    await until(() => two.app.get(WsHub).connectedUsers().includes('ann'), 'the laptop to be authorized');
    phone.ws.close();
    await phone.waitForClose();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(seen()).toEqual(['1 ann:online']); // a socket is left on the other node
    laptop.ws.close();
    await until(() => seen().length === 2, 'offline');
    expect(seen()).toEqual(['1 ann:online', '2 ann:offline']);
  });
});
