import { once } from 'node:events';
import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy in front of hub nodes, as a load balancer with a flaky network
 * path: it forwards to one node port, can be pointed at another (a node being
 * deployed or dead), and can drop every connection and refuse new ones for a
 * while (a network outage).
 */
export class SwitchProxy {
  private readonly links = new Set<{ client: Socket; upstream: Socket }>();
  private readonly server: Server;
  private downUntil = 0;
  /** Connections dropped by `outage()`, over the proxy's life. */
  dropped = 0;

  private constructor(public target: number) {
    this.server = createServer((client) => {
      if (Date.now() < this.downUntil) {
        client.destroy();
        return;
      }
      const upstream = createConnection({ port: this.target, host: '127.0.0.1' });
      const link = { client, upstream };
      this.links.add(link);
      const end = () => {
        this.links.delete(link);
        client.destroy();
        upstream.destroy();
      };
      client.on('error', end).on('close', end);
      upstream.on('error', end).on('close', end);
      client.pipe(upstream);
      upstream.pipe(client);
    });
  }

  static async start(target: number): Promise<SwitchProxy> {
    const proxy = new SwitchProxy(target);
    proxy.server.listen(0, '127.0.0.1');
    await once(proxy.server, 'listening');
    return proxy;
  }

  get port(): number {
    return (this.server.address() as { port: number }).port;
  }

  /** Drops every open connection at once (no close frame: the clients see 1006) and refuses new ones for `ms`. */
  outage(ms: number): void {
    this.downUntil = Date.now() + ms;
    for (const link of this.links) {
      this.dropped++;
      link.client.destroy();
      link.upstream.destroy();
    }
    this.links.clear();
  }

  async close(): Promise<void> {
    this.outage(0);
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
