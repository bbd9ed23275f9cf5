import { describe, expect, it } from 'vitest';
import { DEFAULT_REDIS_BROKER_OPTIONS, RedisBroker, resolveRedisBrokerOptions } from '../src/index.js';

describe('options are checked before anything connects', () => {
  it.each([
    [{ url: 'http://localhost' }, 'option "url" must be a redis:// or rediss:// URL, got "http://localhost"'],
    [{ url: 'redis://localhost:port' }, 'option "url" must be a redis:// or rediss:// URL, got "redis://localhost:port"'],
    [{ url: 6379 }, 'option "url" must be a redis:// or rediss:// URL, got 6379'],
    [{ url: 'redis://a', client: {} }, 'takes one of "url", "client" and "cluster", got "url" and "client"'],
    [{ url: 'redis://a', cluster: [{ port: 7000 }] }, 'takes one of "url", "client" and "cluster", got "url" and "cluster"'],
    [{ cluster: [] }, 'option "cluster" must be a non-empty array of { host, port } objects or redis:// URLs, got an empty array'],
    [{ cluster: [{ port: 7000 }, { host: 1 }] }, 'option "cluster" must be a non-empty array of { host, port } objects or redis:// URLs, got an array whose entry 1 is an object'],
    [{ cluster: [7000, 'http://b:7000'] }, 'option "cluster" must be a non-empty array of { host, port } objects or redis:// URLs, got an array whose entry 1 is "http://b:7000"'],
    [{ clusterOptions: {} }, 'option "clusterOptions" applies only with "cluster"'],
    [{ client: { get: () => 1 } }, 'option "client" must be an ioredis client'],
    [{ prefix: '' }, 'broker "prefix" must be a non-empty string without spaces, got ""'],
    [{ nodeHeartbeatMs: 0 }, 'option "nodeHeartbeatMs" must be an integer of at least 10, got 0'],
    [{ bufferMaxMessages: -1 }, 'option "bufferMaxMessages" must be an integer of at least 0, got -1'],
    [{ bufferMaxAgeMs: 1.5 }, 'option "bufferMaxAgeMs" must be an integer of at least 1, got 1.5'],
    [{ recordMaxInFlight: 0 }, 'option "recordMaxInFlight" must be an integer of at least 1, got 0'],
    [{ recordMaxInFlightBytes: 100 }, 'option "recordMaxInFlightBytes" must be an integer of at least 1024, got 100'],
    [{ highWaterMarkBytes: 512 }, 'option "highWaterMarkBytes" must be an integer of at least 1024, got 512'],
    [{ highWaterMarkBytes: 4096, maxQueuedBytes: 2048 }, 'option "maxQueuedBytes" must be at least highWaterMarkBytes (4096), got 2048'],
    [{ orderWindowMs: -1 }, 'option "orderWindowMs" must be an integer of at least 0, got -1'],
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
      subscribeTimeoutMs: 10_000,
      bufferMaxMessages: 1000,
      bufferMaxBytes: 8 * 1024 * 1024,
      bufferMaxAgeMs: 10_000,
      bufferFlushDelayMs: 1500,
      reconnectMaxDelayMs: 1000,
      recordMaxInFlight: 4096,
      recordMaxInFlightBytes: 8 * 1024 * 1024,
      highWaterMarkBytes: 1024 * 1024,
      maxQueuedBytes: 16 * 1024 * 1024,
      orderWindowMs: 50,
    });
  });
});

describe('no option error carries a credential', () => {
  const secret = 's3cret-pa55';
  it.each([
    ['a url with the wrong scheme', { url: `http://:${secret}@10.0.0.5:6379` }, 'got "http://***@10.0.0.5:6379"'],
    ['a url with a user and the wrong scheme', { url: `redis:/alice:${secret}@host` }, 'got "***@host"'],
    ['a url that is no URL', { url: `redis://:${secret}@10.0.0.5:port` }, 'got "redis://***@10.0.0.5:port"'],
    ['a url whose password holds @ and /', { url: `redis://:a/${secret}@host:port` }, 'got "redis://***@host:port"'],
    ['a url with a password in its query', { url: `http://10.0.0.5?password=${secret}` }, 'got "http://10.0.0.5?***"'],
    ['a url beside a client', { url: `redis://:${secret}@h`, client: {} }, 'got "url" and "client"'],
    ['a url beside a cluster', { url: `redis://:${secret}@h`, cluster: [`redis://:${secret}@h:7000`] }, 'got "url" and "cluster"'],
    ['a url and a wrong number', { url: `redis://:${secret}@h`, nodeHeartbeatMs: 1 }, 'option "nodeHeartbeatMs"'],
    ['a url and a wrong node TTL', { url: `redis://:${secret}@h`, nodeTtlMs: 100, nodeHeartbeatMs: 100 }, 'option "nodeTtlMs" (100)'],
    ['a url and clusterOptions', { url: `redis://:${secret}@h`, clusterOptions: { redisOptions: { password: secret } } }, '"clusterOptions" applies only'],
    ['a cluster node URL that is no URL', { cluster: [`redis://:${secret}@h:port`] }, 'entry 0 is "redis://***@h:port"'],
    ['a cluster node URL with the wrong scheme', { cluster: [`http://u:${secret}@h:7000`] }, 'entry 0 is "http://***@h:7000"'],
    ['a cluster node object with a password', { cluster: [{ host: 'h', port: '7000', password: secret }] }, 'entry 0 is an object'],
    ['a cluster given as one URL', { cluster: `redis://:${secret}@h:7000` }, 'got "redis://***@h:7000"'],
    ['a client that is not ioredis', { client: { options: { password: secret } } }, 'option "client" must be an ioredis client'],
    ['the old heartbeat option', { url: `redis://:${secret}@h`, heartbeatMs: 1 }, 'option "heartbeatMs" is now'],
  ])('%s', (_, options, message) => {
    let thrown: unknown;
    try {
      new RedisBroker(options as never);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(TypeError);
    const error = thrown as TypeError;
    expect(error.message).toContain(message);
    // Everything a logger may print: the message, the stack and every own property.
    for (const text of [error.message, error.stack, JSON.stringify(error), String(error)]) expect(text).not.toContain(secret);
  });
});
