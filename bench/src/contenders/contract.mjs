/**
 * What a contender is. Each contender module exports
 *
 *   export async function start(ctx: StartContext): Promise<Instance>
 *
 * `start` attaches a WebSocket server to `ctx.server` (an http.Server that
 * is not listening yet) and returns the delivery operations it supports.
 * Scenarios call only the operations they need; the registry in `index.mjs`
 * says which scenarios a contender takes part in.
 *
 * @typedef {{ id: string, deviceFingerprint: string }} BenchUser
 *
 * @typedef {object} StartContext
 * @property {import('node:http').Server} server not listening yet
 * @property {string} path the WebSocket path clients connect to
 * @property {(req: import('node:http').IncomingMessage) => BenchUser} authenticate
 *   reads `?token=` (throws when missing or malformed)
 * @property {(token: unknown) => BenchUser} userFromToken for transports that carry the token elsewhere
 * @property {() => void} onReady call once per socket that is authenticated and can receive deliveries
 * @property {() => void} onWatch call once per registered watch (scenario E)
 * @property {{ redisUrl: string, role: 'publisher' | 'subscriber' } | undefined} cluster
 *   set in scenario F: connect to Redis; `publisher` nodes only send, `subscriber` nodes hold the clients
 *
 * @typedef {object} Deliver
 * @property {(event: string, data: object) => unknown} [broadcast] A: to every connected socket
 * @property {(userId: string, event: string, data: object) => unknown} [toUser] B, F: to every socket of one user
 * @property {(event: string, data: object, allow: (user: BenchUser) => Promise<boolean>) => Promise<unknown>} [pushAllow]
 *   D: to every user `allow` accepts; resolves when done
 * @property {(event: string, scope: string, data: object) => unknown} [scoped] E: to the sockets watching (event, scope)
 *
 * A returned promise is awaited by the driver only where the scenario says
 * so (D); elsewhere a rejection is counted as an error.
 *
 * @typedef {object} Instance
 * @property {Deliver} deliver
 * @property {() => Promise<void> | void} close
 * @property {() => Record<string, number>} [stats] counters worth keeping with the results (drops, slow consumers)
 */
export {};
