/**
 * Closes the sockets of user `id` on that device (every device when
 * `deviceFingerprint` is omitted), on every node, with 4000.
 */
export class DisconnectWsClientCommand {
  constructor(
    readonly id: string,
    readonly deviceFingerprint?: string,
  ) {}
}
