/**
 * Published when a user's presence changes in the whole cluster: `online`
 * when their first socket anywhere is ready, `offline` when their last one
 * anywhere closed or the last node holding them died. Once per change, on
 * one node (with one process, on that process): handle it to keep "online"
 * badges or last-seen times, without counting sockets yourself.
 *
 * Around faults (Redis lost its data, a node taken for dead came back) a
 * change may be published again, so treat it as the user's state, not as a
 * toggle.
 */
export class UserPresenceChangedEvent {
  constructor(
    readonly userId: string,
    readonly online: boolean,
  ) {}
}
