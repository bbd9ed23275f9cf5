import type { RecoveryLimits } from '../brokers/history.js';
import { DEFAULT_PATH, optionError } from '../protocol/protocol.js';
import { resolveReceipts } from './receipts.js';
import {
  DEFAULT_AUTH_TIMEOUT_MS,
  DEFAULT_CLOSE_TIMEOUT_MS,
  DEFAULT_DRAIN_TIMEOUT_MS,
  DEFAULT_HEARTBEAT_MS,
  DEFAULT_LIMITS,
  DEFAULT_PAUSE_TIMEOUT_MS,
  DEFAULT_PUSH_TIMEOUT_MS,
  DEFAULT_RECOVERY,
  DEFAULT_REFRESH_AHEAD_MS,
  DEFAULT_WATCH_TIMEOUT_MS,
  type HubLimits,
  type HubOptions,
  type HubUser,
  type ResolvedOptions,
} from './options.js';

/** Limits where 0 is a meaningful value (off / none kept). */
const ZERO_ALLOWED: ReadonlySet<keyof HubLimits> = new Set(['maxPendingMessages', 'messageRate']);

function positiveInteger(name: string, value: unknown, fallback: number, allowZero = false): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || (!allowZero && value === 0)) {
    throw optionError('', name, `a ${allowZero ? 'non-negative' : 'positive'} integer`, value);
  }
  return value;
}

/** Validates options and fills in defaults; misuse fails at once with a TypeError naming the option. */
export function resolveOptions<User extends HubUser, Socket>(options: HubOptions<User, Socket>): ResolvedOptions {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('wshub: options must be an object with at least an "authenticate" function');
  }
  if (typeof options.authenticate !== 'function') {
    throw optionError('', 'authenticate', 'a function', options.authenticate);
  }
  for (const hook of ['canWatch', 'serialize', 'refresh'] as const) {
    if (options[hook] !== undefined && typeof options[hook] !== 'function') {
      throw optionError('', hook, 'a function', options[hook]);
    }
  }
  const path = options.path ?? DEFAULT_PATH;
  if (typeof path !== 'string' || !path.startsWith('/')) {
    throw optionError('', 'path', 'a string starting with "/"', path);
  }
  const origins = options.allowedOrigins;
  if (
    origins !== undefined &&
    typeof origins !== 'function' &&
    !(Array.isArray(origins) && origins.every((o) => typeof o === 'string'))
  ) {
    throw optionError('', 'allowedOrigins', 'an array of strings or a function', origins);
  }
  const limits = options.limits ?? {};
  if (typeof limits !== 'object' || limits === null) {
    throw optionError('', 'limits', 'an object', limits);
  }
  return {
    path,
    authTimeoutMs: positiveInteger('authTimeoutMs', options.authTimeoutMs, DEFAULT_AUTH_TIMEOUT_MS),
    watchTimeoutMs: positiveInteger('watchTimeoutMs', options.watchTimeoutMs, DEFAULT_WATCH_TIMEOUT_MS),
    heartbeatMs: positiveInteger('heartbeatMs', options.heartbeatMs, DEFAULT_HEARTBEAT_MS, true),
    pushTimeoutMs: positiveInteger('pushTimeoutMs', options.pushTimeoutMs, DEFAULT_PUSH_TIMEOUT_MS),
    closeTimeoutMs: positiveInteger('closeTimeoutMs', options.closeTimeoutMs, DEFAULT_CLOSE_TIMEOUT_MS),
    refreshAheadMs: positiveInteger('refreshAheadMs', options.refreshAheadMs, DEFAULT_REFRESH_AHEAD_MS),
    drainTimeoutMs: positiveInteger('drainTimeoutMs', options.drainTimeoutMs, DEFAULT_DRAIN_TIMEOUT_MS),
    pauseTimeoutMs: positiveInteger('pauseTimeoutMs', options.pauseTimeoutMs, DEFAULT_PAUSE_TIMEOUT_MS),
    recovery: resolveRecovery(options.recovery),
    receipts: resolveReceipts(options.receipts),
    limits: resolveLimits(limits),
  };
}

function resolveLimits(limits: HubLimits): Required<HubLimits> {
  const out = { ...DEFAULT_LIMITS } as Required<HubLimits>;
  for (const name of Object.keys(limits) as Array<keyof HubLimits>) {
    if (!Object.hasOwn(DEFAULT_LIMITS, name)) {
      const known = Object.keys(DEFAULT_LIMITS).join(', ');
      throw new TypeError(`wshub: unknown option "limits.${String(name)}"; the limits are ${known}`);
    }
    out[name] = positiveInteger(`limits.${name}`, limits[name], DEFAULT_LIMITS[name], ZERO_ALLOWED.has(name));
  }
  return out;
}

function resolveRecovery(value: HubOptions<HubUser, unknown>['recovery']): RecoveryLimits | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true) return { ...DEFAULT_RECOVERY };
  if (typeof value !== 'object' || value === null) {
    throw optionError('', 'recovery', 'true, false or { maxMessages?, ttlMs?, maxUsers?, maxBytes? }', value);
  }
  return {
    maxMessages: positiveInteger('recovery.maxMessages', value.maxMessages, DEFAULT_RECOVERY.maxMessages),
    ttlMs: positiveInteger('recovery.ttlMs', value.ttlMs, DEFAULT_RECOVERY.ttlMs),
    maxUsers: positiveInteger('recovery.maxUsers', value.maxUsers, DEFAULT_RECOVERY.maxUsers),
    maxBytes: positiveInteger('recovery.maxBytes', value.maxBytes, DEFAULT_RECOVERY.maxBytes),
  };
}
