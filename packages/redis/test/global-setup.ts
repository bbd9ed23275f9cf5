import { redisMissing } from './redis-server.js';

/** Says once per run why the Redis suites skip; under `CI` they fail instead (see `redisSkipReason`). */
export default function setup(): void {
  if (redisMissing && !process.env.CI) {
    process.stderr.write(`@wshub/redis: ${redisMissing}; the Redis tests are skipped (install redis-server to run them)\n`);
  }
}
