import { once } from 'node:events';
import { createConnection, createServer, type Server, type Socket } from 'node:net';

interface Link {
  client: Socket;
  upstream: Socket;
  subscriber: boolean;
  frozen: boolean;
}

/**
 * A TCP proxy in front of redis-server that can make a subscriber connection
 * go silent: the connection stays open, but nothing Redis sends reaches the
 * client any more, as with a network path that drops packets without a reset.
 */
export class TcpProxy {
  private readonly links = new Set<Link>();
  private readonly server: Server;
  /** How long what clients send waits before it goes on to Redis, in ms (see {@link delayRequests}). */
  private delayMs = 0;
  /** How long what Redis sends waits before it goes on to the client, in ms (see {@link delayResponses}). */
  private responseDelayMs = 0;

  private constructor(targetPort: number) {
    this.server = createServer((client) => {
      const upstream = createConnection({ port: targetPort, host: '127.0.0.1' });
      const link: Link = { client, upstream, subscriber: false, frozen: false };
      this.links.add(link);
      const end = () => {
        this.links.delete(link);
        client.destroy();
        upstream.destroy();
      };
      client.on('error', end).on('close', end);
      upstream.on('error', end).on('close', end);
      client.on('data', (data) => {
        if (/subscribe/i.test(data.toString('latin1'))) link.subscriber = true;
        // One delay for every chunk, so the timers keep their order.
        if (this.delayMs > 0) setTimeout(() => upstream.write(data), this.delayMs);
        else upstream.write(data);
      });
      upstream.on('data', (data) => {
        if (link.frozen) return;
        if (this.responseDelayMs > 0) setTimeout(() => client.write(data), this.responseDelayMs);
        else client.write(data);
      });
    });
  }

  static async start(targetPort: number): Promise<TcpProxy> {
    const proxy = new TcpProxy(targetPort);
    proxy.server.listen(0, '127.0.0.1');
    await once(proxy.server, 'listening');
    return proxy;
  }

  get port(): number {
    return (this.server.address() as { port: number }).port;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Silences every open subscriber connection; returns how many. */
  freezeSubscribers(): number {
    return this.freeze(true);
  }

  /**
   * From now on, what every client sends reaches Redis `ms` later (a slow
   * path to one server); what Redis sends goes on at once.
   */
  delayRequests(ms: number): void {
    this.delayMs = ms;
  }

  /**
   * From now on, what Redis sends (answers, and the messages of subscriber
   * connections) reaches every client `ms` later; what clients send goes on
   * at once.
   */
  delayResponses(ms: number): void {
    this.responseDelayMs = ms;
  }

  /** Silences every open connection that is not a subscriber (publishes and queries); returns how many. */
  freezeCommands(): number {
    return this.freeze(false);
  }

  private freeze(subscribers: boolean): number {
    let n = 0;
    for (const link of this.links) {
      if (link.subscriber === subscribers && !link.frozen) {
        link.frozen = true;
        n++;
      }
    }
    return n;
  }

  async close(): Promise<void> {
    for (const link of this.links) {
      link.client.destroy();
      link.upstream.destroy();
    }
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
