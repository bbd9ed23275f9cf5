import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { DEMO_ACCOUNTS, type DemoUser } from '../demo-users.js';

/** Signs this process's tokens; a restart invalidates them, as a rotated key would. */
const secret = randomBytes(32);

/**
 * How long a session token lives: `TOKEN_TTL_MS` (default 60 s). Short, so
 * the demo shows sessions renewing on the open socket.
 */
export function tokenTtlMs(): number {
  const value = process.env.TOKEN_TTL_MS;
  if (value === undefined || value === '') return 60_000;
  const ms = Number(value);
  if (!Number.isInteger(ms) || ms < 1000) throw new Error(`TOKEN_TTL_MS must be an integer of at least 1000, got ${JSON.stringify(value)}`);
  return ms;
}

function sign(payload: string): string {
  return createHmac('sha256', secret).update(payload).digest('base64url');
}

/** A session token for a demo account: `<account token>.<expiresAt>.<signature>`. */
export function issueToken(accountToken: string): { token: string; expiresAt: number } | undefined {
  if (!Object.hasOwn(DEMO_ACCOUNTS, accountToken)) return undefined;
  const expiresAt = Date.now() + tokenTtlMs();
  const payload = `${accountToken}.${expiresAt}`;
  return { token: `${payload}.${sign(payload)}`, expiresAt };
}

/**
 * The user a token stands for, with its `expiresAt`, or undefined for a bad
 * or expired token. The demo accounts' own tokens (`bob-token`) still work,
 * without expiry, for curl and quick tries.
 */
export function verifyToken(token: string, device: string): DemoUser | undefined {
  if (Object.hasOwn(DEMO_ACCOUNTS, token)) return { ...DEMO_ACCOUNTS[token]!, deviceFingerprint: device };
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  const [account, expires, signature] = parts as [string, string, string];
  const expected = Buffer.from(sign(`${account}.${expires}`));
  const given = Buffer.from(signature);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
  const expiresAt = Number(expires);
  if (!Number.isSafeInteger(expiresAt) || expiresAt <= Date.now() || !Object.hasOwn(DEMO_ACCOUNTS, account)) return undefined;
  return { ...DEMO_ACCOUNTS[account]!, deviceFingerprint: device, expiresAt };
}
