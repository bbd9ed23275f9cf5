import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type HubOptions, WsHub, type WsHubSocket } from '@wshub/core';

/** A real `WsHub` on 127.0.0.1:0; `close()` ends the hub and the server. */
export interface RealHub<User extends { id: string; deviceFingerprint: string }> {
  hub: WsHub<User>;
  server: Server;
  url: string;
  close(): Promise<void>;
}

export async function startRealHub<User extends { id: string; deviceFingerprint: string }>(
  options: HubOptions<User, WsHubSocket<User>>,
): Promise<RealHub<User>> {
  const hub = new WsHub<User>(options);
  const server = createServer((_request, response) => response.writeHead(404).end());
  hub.attach(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    hub,
    server,
    url: `ws://127.0.0.1:${port}${hub.path}`,
    async close() {
      await hub.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
