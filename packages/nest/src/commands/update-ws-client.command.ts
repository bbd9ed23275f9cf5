/** Replaces the user object on every socket of `user.id`, on every node. */
export class UpdateWsClientCommand<T extends { id: string } = { id: string; deviceFingerprint: string }> {
  constructor(readonly user: T) {}
}
