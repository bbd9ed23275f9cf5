// A small Nest app on @wshub/nest, written as an app developer would (with
// explicit @Inject tokens, as this package's tests compile without decorator metadata).
import { Inject, Injectable, Module } from '@nestjs/common';
import { CommandBus, EventBus, EventsHandler, type IEventHandler } from '@nestjs/cqrs';
import {
  ClientConnectedEvent,
  ClientDisconnectedEvent,
  ClientMessageEvent,
  ClientReadyEvent,
  DisconnectWsClientCommand,
  IsAllowedToWatchEvent,
  PushCommand,
  SendMessageCommand,
} from '@wshub/nest';
import { Exclude } from 'class-transformer';

export interface User {
  id: string;
  deviceFingerprint: string;
  role: 'admin' | 'user';
}

const users: Record<string, Omit<User, 'deviceFingerprint'>> = {
  'alice-token': { id: 'alice', role: 'admin' },
  'bob-token': { id: 'bob', role: 'user' },
};
export const orderOwners: Record<string, string> = { '1': 'alice', '42': 'bob' };

@EventsHandler(ClientConnectedEvent)
export class AuthHandler implements IEventHandler<ClientConnectedEvent<User>> {
  handle(event: ClientConnectedEvent<User>): void {
    const url = new URL(event.incomingMessage.url, 'http://localhost');
    const token = url.searchParams.get('token') ?? '';
    if (token === 'hang') return; // as an auth backend that never answers
    const user = users[token];
    if (user) event.resolve({ ...user, deviceFingerprint: url.searchParams.get('device') ?? 'browser' });
    else event.reject(new Error('invalid token'));
  }
}

@EventsHandler(IsAllowedToWatchEvent)
export class OrderWatchRule implements IEventHandler<IsAllowedToWatchEvent<User>> {
  handle(event: IsAllowedToWatchEvent<User>): void {
    if (event.event !== 'order-status') return;
    const allowed = event.user?.role === 'admin' || (event.payload !== null && orderOwners[event.payload] === event.userId);
    event.output.push(Promise.resolve(allowed));
  }
}

/** Records the lifecycle events the module publishes, for the tests to read. */
@Injectable()
export class Journal {
  readonly entries: string[] = [];
}

@EventsHandler(ClientReadyEvent, ClientDisconnectedEvent, ClientMessageEvent)
export class JournalHandler implements IEventHandler<ClientReadyEvent | ClientDisconnectedEvent | ClientMessageEvent> {
  constructor(@Inject(Journal) private readonly journal: Journal) {}

  handle(event: ClientReadyEvent | ClientDisconnectedEvent | ClientMessageEvent): void {
    if (event instanceof ClientReadyEvent) this.journal.entries.push(`ready ${event.userId}`);
    else if (event instanceof ClientDisconnectedEvent) this.journal.entries.push(`disconnected ${event.id}`);
    else this.journal.entries.push(`${event.event} from ${event.userId}: ${JSON.stringify(event.data)}`);
  }
}

export class OrderStatus {
  /** Never sent to clients (class-transformer). */
  @Exclude() warehouseNote = 'aisle 7';

  constructor(
    readonly orderId: number,
    readonly status: string,
  ) {}
}

@Injectable()
export class OrdersService {
  constructor(
    @Inject(CommandBus) private readonly commandBus: CommandBus,
    @Inject(EventBus) private readonly eventBus: EventBus,
  ) {}

  /** The owner's devices watching this order (or every order) get the new status. */
  ship(orderId: number): Promise<void> {
    const owner = orderOwners[String(orderId)]!;
    return this.commandBus.execute(new SendMessageCommand(owner, 'order-status', new OrderStatus(orderId, 'shipped'), orderId));
  }

  announceToAdmins(text: string): Promise<void> {
    return this.commandBus.execute(new PushCommand<User>('announcement', { text }, (user) => user.role === 'admin'));
  }

  signOut(userId: string, deviceFingerprint?: string): Promise<void> {
    return this.commandBus.execute(new DisconnectWsClientCommand(userId, deviceFingerprint));
  }

  /** @kovalenko/nestjs-websocket's other way to disconnect: publish ClientDisconnectedEvent. */
  kick(userId: string): void {
    this.eventBus.publish(new ClientDisconnectedEvent(userId));
  }
}

@Module({
  providers: [AuthHandler, OrderWatchRule, Journal, JournalHandler, OrdersService],
})
export class OrdersModule {}
