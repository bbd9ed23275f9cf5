import { Injectable } from '@nestjs/common';
import { EventsHandler, type IEventHandler } from '@nestjs/cqrs';
import { ClientDisconnectedEvent, ClientMessageEvent, ClientReadyEvent } from '@wshub/nest';

type Observed = ClientReadyEvent | ClientDisconnectedEvent | ClientMessageEvent;

/**
 * Records the module's lifecycle events so tests can await them instead of
 * sleeping: `await probe.next(ClientReadyEvent, (e) => e.userId === 'bob')`.
 */
@Injectable()
@EventsHandler(ClientReadyEvent, ClientDisconnectedEvent, ClientMessageEvent)
export class EventProbe implements IEventHandler<Observed> {
  readonly seen: Observed[] = [];
  private readonly waiters: Array<{ accepts: (event: Observed) => boolean; resolve: (event: Observed) => void }> = [];

  /** Hands the event to every waiter that wants it; keeps it when none does. */
  handle(event: Observed): void {
    const takers = this.waiters.filter((waiter) => waiter.accepts(event));
    if (takers.length === 0) {
      this.seen.push(event);
      return;
    }
    for (const taker of takers) {
      this.waiters.splice(this.waiters.indexOf(taker), 1);
      taker.resolve(event);
    }
  }

  /** The first event of `type` matching `where`, already seen or still to come. */
  next<E extends Observed>(
    type: new (...args: any[]) => E,
    where: (event: E) => boolean = () => true,
    timeoutMs = 5000,
  ): Promise<E> {
    const accepts = (event: Observed): boolean => event instanceof type && where(event as E);
    const index = this.seen.findIndex(accepts);
    if (index >= 0) return Promise.resolve(this.seen.splice(index, 1)[0] as E);
    return new Promise<E>((resolve, reject) => {
      const waiter = {
        accepts,
        resolve: (event: Observed) => {
          clearTimeout(timer);
          resolve(event as E);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error(`no ${type.name} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** Events of `type` seen and not taken by `next()`. */
  unclaimed<E extends Observed>(type: new (...args: any[]) => E): E[] {
    return this.seen.filter((event): event is E => event instanceof type);
  }
}
