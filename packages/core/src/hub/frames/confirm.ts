import type { HubUser } from '../../config/options.js';
import { CONFIRM, EXCEPTION, MAX_CONFIRM_IDS } from '../../protocol/protocol.js';
import type { AdmittedSession } from '../../session/socket-session.js';
import type { HubContext } from '../hub-context.js';

/**
 * `wshub:confirm` (v2): the client handled the messages `data.ids`. Not
 * answered (a confirmation is fire-and-forget, batched by the client). A
 * malformed body gets an `exception` on that socket, which stays open; ids
 * this socket never got are ignored and counted (`receiptsIgnored`); with
 * receipts off, the frame is ignored.
 */
export function confirmFrame<User extends HubUser, S extends object>(
  ctx: HubContext<User, S>,
  session: AdmittedSession<User, S>,
  data: unknown,
): undefined {
  const receipts = ctx.receipts;
  if (!receipts) return undefined;
  const ids = (data as { ids?: unknown } | null)?.ids;
  if (typeof data !== 'object' || !Array.isArray(ids) || ids.length === 0 || ids.length > MAX_CONFIRM_IDS || !allStrings(ids)) {
    ctx.delivery.reply(session, EXCEPTION, {
      status: 'error',
      message: `${CONFIRM} "data.ids" must be an array of 1 to ${MAX_CONFIRM_IDS} strings`,
    });
    return undefined;
  }
  receipts.confirm(session, ids);
  return undefined;
}

function allStrings(ids: unknown[]): ids is string[] {
  for (let i = 0; i < ids.length; i++) if (typeof ids[i] !== 'string') return false;
  return true;
}
