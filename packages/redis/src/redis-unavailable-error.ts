/**
 * A cluster presence query (`hub.onlineUsers()`, `hub.isOnline()`, push
 * callbacks) could not be answered: Redis is unreachable or did not answer
 * within `commandTimeoutMs`. Thrown at once rather than waiting for Redis,
 * and the only error these queries reject with: ioredis's own errors (a
 * connection closed mid-query, a cluster failing over) are its `cause`.
 */
export class RedisUnavailableError extends Error {
  override readonly name = 'RedisUnavailableError';
}
