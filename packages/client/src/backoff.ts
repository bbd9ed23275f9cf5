/** The settings that shape the delay between reconnection attempts. */
export interface BackoffSettings {
  initialDelayMs: number;
  maxDelayMs: number;
  factor: number;
  jitter: number;
}

/**
 * Delay before reconnection attempt number `attempt` (0 for the first retry):
 * exponential growth capped at `maxDelayMs`, then jitter. With `jitter: 1`
 * ("full jitter") the delay is uniform between 0 and the cap, so clients cut
 * off by the same server restart do not all come back at the same moment.
 *
 * @param random a number in [0, 1), `Math.random()` in production
 */
export function reconnectDelay(attempt: number, settings: BackoffSettings, random: number): number {
  const cap = Math.min(settings.maxDelayMs, settings.initialDelayMs * settings.factor ** attempt);
  return Math.round(cap * (1 - settings.jitter * random));
}
