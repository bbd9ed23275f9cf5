/** The `data` of a client's `watch` / `unwatch` frame. */
export class WatchEventDto {
  event!: string;
  payload?: string | null;
}
