/** Published when a connection has been authorized and receives deliveries. */
export class ClientReadyEvent {
  constructor(
    readonly userId: string,
    readonly deviceFingerprint?: string,
    /** The socket's unique id (`AuthWebSocket.id`). */
    readonly connectionId?: string,
  ) {}
}
