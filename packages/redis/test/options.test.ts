import { describe, expect, it } from 'vitest';
import { DEFAULT_REDIS_BROKER_OPTIONS, RedisBroker, resolveRedisBrokerOptions } from '../src/index.js';

describe('options are checked before anything connects', () => {
  it.each([
    [{ url: 'http://localhost' }, 'option "url" must be a redis:// or rediss:// URL, got "http://localhost"'],
    [{ url: 'redis://a', client: {} }, 'takes one of "url", "client" and "cluster", got "url" and "client"'],
    [{ url: 'redis://a', cluster: [{ port: 7000 }] }, 'takes one of "url", "client" and "cluster", got "url" and "cluster"'],
    [{ cluster: [] }, 'option "cluster" must be a non-empty array of { host, port } objects or redis:// URLs, got []'],
    [{ cluster: [{ host: 1 }] }, 'option "cluster" must be a non-empty array of { host, port } objects or redis:// URLs'],
    [{ clusterOptions: {} }, 'option "clusterOptions" applies only with "cluster"'],
    [{ client: { get: () => 1 } }, 'option "client" must be an ioredis client'],
    [{ prefix: '' }, 'broker "prefix" must be a non-empty string without spaces, got ""'],
    [{ nodeHeartbeatMs: 0 }, 'option "nodeHeartbeatMs" must be an integer of at least 10, got 0'],
    [{ bufferMaxMessages: -1 }, 'option "bufferMaxMessages" must be an integer of at least 0, got -1'],
    [{ bufferMaxAgeMs: 1.5 }, 'option "bufferMaxAgeMs" must be an integer of at least 1, got 1.5'],
    [{ nodeHeartbeatMs: 6000 }, 'option "nodeTtlMs" (10000) must be at least twice "nodeHeartbeatMs" (6000)'],
    [{ heartbeatMs: 3000 }, 'option "heartbeatMs" is now "nodeHeartbeatMs"'],
  ])('%j', (options, message) => {
    expect(() => new RedisBroker(options as never)).toThrow(TypeError);
    expect(() => new RedisBroker(options as never)).toThrow(message);
  });

  it('fills in the documented defaults', () => {
    expect(resolveRedisBrokerOptions({})).toEqual(DEFAULT_REDIS_BROKER_OPTIONS);
    expect(DEFAULT_REDIS_BROKER_OPTIONS).toEqual({
      prefix: 'wshub',
      nodeHeartbeatMs: 3000,
      nodeTtlMs: 10_000,
      commandTimeoutMs: 2000,
      probeIntervalMs: 2000,
      probeTimeoutMs: 2000,
      bufferMaxMessages: 1000,
      bufferMaxBytes: 8 * 1024 * 1024,
      bufferMaxAgeMs: 10_000,
      bufferFlushDelayMs: 1500,
      reconnectMaxDelayMs: 1000,
    });
  });
});
