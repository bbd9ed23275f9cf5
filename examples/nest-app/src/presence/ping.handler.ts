import { EventsHandler, IEventHandler } from '@nestjs/cqrs';
import { ClientMessageEvent } from '@wshub/nest';

/** What a `pong` carries back: the two fields the page sends, nothing else. */
export interface Pong {
  device: string | null;
  ping: number | null;
}

/**
 * A client event the app handles itself: `ping` is answered with `pong` on
 * the socket that sent it, and on no other (one socket must not make the
 * server write to all of the user's sockets).
 *
 * Only `device` (a short string) and `ping` (a number) are echoed: whatever
 * else a client puts in `data` (large, deeply nested) is never serialized back.
 */
@EventsHandler(ClientMessageEvent)
export class PingHandler implements IEventHandler<ClientMessageEvent> {
  handle({ socket, event, data }: ClientMessageEvent): void {
    if (event !== 'ping') return;
    const { device, ping } = (typeof data === 'object' && data !== null ? data : {}) as Record<string, unknown>;
    const pong: Pong = {
      device: typeof device === 'string' && device.length <= 100 ? device : null,
      ping: typeof ping === 'number' && Number.isFinite(ping) ? ping : null,
    };
    if (socket.readyState === socket.OPEN) socket.send(JSON.stringify({ event: 'pong', data: pong }));
  }
}
