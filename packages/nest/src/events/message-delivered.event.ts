/**
 * Receipts (`WsModule.forRoot({ receipts: true })`): a device of the user
 * confirmed the message (`@wshub/client` does once the message's handlers
 * returned, or on `message.ack()`). Published on the instance that sent
 * it, once per confirming socket; `late` when `MessageUndeliveredEvent`
 * had been published for it already. `id` is what `sendMessage`/`push`
 * (and their commands) resolved with.
 */
export class MessageDeliveredEvent {
  constructor(
    readonly id: string,
    readonly userId: string,
    readonly deviceFingerprint: string,
    readonly socketId: string,
    readonly event: string,
    /** `Date.now()` when the confirmation reached the hub. */
    readonly at: number,
    readonly late = false,
  ) {}
}
