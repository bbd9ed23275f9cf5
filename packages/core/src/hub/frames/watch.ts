import type { HubContext } from '../hub-context.js';
import type { HubUser } from '../../config/options.js';
import type { AdmittedSession } from '../../session/socket-session.js';

/**
 * `watch`: validation, the per-socket limit, `canWatch` and the answer live
 * in {@link Watches}, which also serves the registry's other callers; this
 * is the frame's entry. The promise holds the socket's later frames until an
 * async `canWatch` answered.
 */
export function watchFrame<User extends HubUser, S extends object>(
  ctx: HubContext<User, S>,
  session: AdmittedSession<User, S>,
  data: unknown,
  rawId: unknown,
): Promise<void> | undefined {
  return ctx.watches.watch(session, data, rawId);
}
