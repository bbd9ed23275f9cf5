import { once } from 'node:events';
import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy in front of PostgreSQL that can take it away: `down()` cuts
 * every connection and refuses new ones (each is closed as it opens), as a
 * PostgreSQL that restarts or a network that fails would; `up()` lets them
 * through again.
 */
export class OutageProxy {
  private readonly sockets = new Set<Socket>();
  private readonly server: Server;
  private isDown = false;

  private constructor(target: { host: string; port: number }) {
    this.server = createServer((client) => {
      if (this.isDown) {
        client.destroy();
        return;
      }
      const upstream = createConnection(target);
      this.sockets.add(client).add(upstream);
      const end = () => {
        this.sockets.delete(client);
        this.sockets.delete(upstream);
        client.destroy();
        upstream.destroy();
      };
      client.on('error', end).on('close', end);
      upstream.on('error', end).on('close', end);
      client.pipe(upstream);
      upstream.pipe(client);
    });
  }

  static async start(target: { host: string; port: number }): Promise<OutageProxy> {
    const proxy = new OutageProxy(target);
    proxy.server.listen(0, '127.0.0.1');
    await once(proxy.server, 'listening');
    return proxy;
  }

  get port(): number {
    return (this.server.address() as { port: number }).port;
  }

  down(): void {
    this.isDown = true;
    for (const socket of this.sockets) socket.destroy();
  }

  up(): void {
    this.isDown = false;
  }

  async close(): Promise<void> {
    this.down();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
