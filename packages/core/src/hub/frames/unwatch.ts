import type { HubContext } from '../hub-context.js';
import type { HubUser } from '../../config/options.js';
import type { AdmittedSession } from '../../session/socket-session.js';

/** `unwatch`: removes exactly that (event, payload); answered at once, never async. */
export function unwatchFrame<User extends HubUser, S extends object>(
  ctx: HubContext<User, S>,
  session: AdmittedSession<User, S>,
  data: unknown,
  rawId: unknown,
): undefined {
  ctx.watches.unwatch(session, data, rawId);
  return undefined;
}
