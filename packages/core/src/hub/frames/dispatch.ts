import type { HubContext } from '../hub-context.js';
import type { HubUser } from '../../config/options.js';
import { CloseCode, CONFIRM, parseClientMessage, REFRESH, RESUME, UNWATCH, WATCH } from '../../protocol/protocol.js';
import type { AdmittedSession, SocketSession } from '../../session/socket-session.js';
import { confirmFrame } from './confirm.js';
import { refreshFrame } from './refresh.js';
import { resumeFrame } from './resume.js';
import { unwatchFrame } from './unwatch.js';
import { watchFrame } from './watch.js';

/**
 * Answers one frame the protocol defines, with `data` and `id` as the
 * client sent them. A promise holds the socket's later frames until it
 * settles (the session runs frames strictly in order).
 */
export type FrameHandler = <User extends HubUser, S extends object>(
  ctx: HubContext<User, S>,
  session: AdmittedSession<User, S>,
  data: unknown,
  rawId: unknown,
) => Promise<void> | undefined;

interface Route {
  readonly handle: FrameHandler;
  /** A frame only protocol v2 has: from a v1 client it is an app event like any other. */
  readonly v2Only: boolean;
}

/** The frames the hub answers; a new one is a module and a line here. */
const routes: ReadonlyMap<string, Route> = new Map<string, Route>([
  [WATCH, { handle: watchFrame, v2Only: false }],
  [UNWATCH, { handle: unwatchFrame, v2Only: false }],
  [RESUME, { handle: resumeFrame, v2Only: true }],
  [REFRESH, { handle: refreshFrame, v2Only: true }],
  [CONFIRM, { handle: confirmFrame, v2Only: true }],
]);

/**
 * One frame of an authorized session: malformed closes with 4400 and the
 * reason; a protocol frame goes to its handler; anything else is the app's
 * `'message'`.
 */
export function dispatchFrame<User extends HubUser, S extends object>(
  ctx: HubContext<User, S>,
  session: SocketSession<User, S>,
  text: string,
): Promise<void> | undefined {
  // Only an admitted session's frames are handled (kept ones wait for admission).
  if (!session.isAdmitted()) return undefined;
  const frame = parseClientMessage(text);
  if (!frame.ok) {
    session.close(CloseCode.BadRequest, frame.reason);
    return undefined;
  }
  const route = routes.get(frame.event);
  if (route && (session.v2 || !route.v2Only)) return route.handle(ctx, session, frame.data, frame.id);
  ctx.notifier.emit('message', { socket: session.socket, event: frame.event, data: frame.data });
  return undefined;
}
