/**
 * Both ways: the module publishes it when an authorized socket closes, for
 * any reason; an app publishes it to close the sockets of user `id` on that
 * device (every device when `deviceFingerprint` is omitted), on every node.
 * The module ignores the events it published itself.
 */
export class ClientDisconnectedEvent {
  constructor(
    readonly id: string,
    readonly deviceFingerprint?: string,
  ) {}
}
