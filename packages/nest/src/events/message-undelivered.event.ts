/**
 * Receipts (`WsModule.forRoot({ receipts: true })`): no device of the user
 * confirmed the message within `receipts.undeliveredAfterMs` (30 s) —
 * offline, or online and never confirmed. Published once in the cluster, on
 * the instance that sent it: hand the message off here (web push, FCM,
 * e-mail). `data` is the data as sent; `scope` the `isWatchingOrPayload`
 * filter (`null`, `true` or a payload).
 */
export class MessageUndeliveredEvent<D = unknown> {
  constructor(
    readonly id: string,
    readonly userId: string,
    readonly event: string,
    readonly data: D,
    readonly scope: string | true | null,
  ) {}
}
