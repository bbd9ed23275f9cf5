import { WebSocket } from 'ws';
import { HubClient, type HubClientOptions } from '../../src/index.js';

export interface Incoming {
  'order-status': { orderId: number; status: string };
  announcement: { text: string };
}
export interface Outgoing {
  sync: number;
  note: string;
  big: string;
}

/**
 * Clients with `ws` as the transport (Node 20 has no global WebSocket) and
 * short backoff, closed by `closeAll()` after each test.
 */
export class Clients {
  readonly #open: HubClient<Incoming, Outgoing>[] = [];

  create(url: string, options: HubClientOptions = {}): HubClient<Incoming, Outgoing> {
    const client = new HubClient<Incoming, Outgoing>(url, {
      WebSocket,
      token: () => 'bob-token',
      reconnect: { initialDelayMs: 20, maxDelayMs: 100 },
      ...options,
    });
    this.#open.push(client);
    return client;
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.#open.splice(0).map((client) => client.close()));
  }
}
