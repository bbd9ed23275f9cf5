import { describe, expectTypeOf, it } from 'vitest';
import { type HubError, WsHub, type WsHubSocket } from '../src/index.js';

interface MyUser {
  id: string;
  deviceFingerprint: string;
  role: 'admin' | 'user';
}

// Compile-time checks (run by `npm run typecheck`); the runtime part only constructs the hub.
describe('types', () => {
  it('types notifications by name and the user by the generic', async () => {
    const hub = new WsHub<MyUser>({
      authenticate: () => ({ id: 'u', deviceFingerprint: 'd', role: 'user' }),
      heartbeatMs: 0,
      canWatch: ({ user, payload }) => {
        expectTypeOf(user).toEqualTypeOf<MyUser>();
        expectTypeOf(payload).toEqualTypeOf<string | null>();
        return true;
      },
    });
    hub.on('ready', ({ socket, user }) => {
      expectTypeOf(user).toEqualTypeOf<MyUser>();
      expectTypeOf(socket).toEqualTypeOf<WsHubSocket<MyUser>>();
      expectTypeOf(socket.watching).toEqualTypeOf<Map<string, Set<string | null>>>();
    });
    hub.on('error', (error) => expectTypeOf(error).toEqualTypeOf<HubError>());
    hub.on('disconnected', ({ code, authorized }) => {
      expectTypeOf(code).toEqualTypeOf<number>();
      expectTypeOf(authorized).toEqualTypeOf<boolean>();
    });
    // @ts-expect-error: not a hub notification
    hub.on('conected', () => {});
    // @ts-expect-error: ready carries { socket, user }, not a string
    hub.on('ready', (payload: string) => payload);
    // @ts-expect-error: a user needs deviceFingerprint
    new WsHub<{ id: string }>({ authenticate: () => ({ id: 'x' }) });
    await hub.push('e', (user) => user.role, (user) => user.role === 'admin');
    await hub.close();
  });
});
