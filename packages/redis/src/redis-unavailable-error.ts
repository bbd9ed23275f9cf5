/**
 * A cluster presence query (`hub.onlineUsers()`, `hub.isOnline()`, push
 * callbacks) could not be answered: Redis is unreachable or did not answer
 * within `commandTimeoutMs`. Thrown at once rather than waiting for Redis.
 */
export class RedisUnavailableError extends Error {
  override readonly name = 'RedisUnavailableError';
}
