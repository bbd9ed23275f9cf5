/** A user as the hub knows it: `id` is the room, `deviceFingerprint` one browser tab or device. */
export interface DemoUser {
  id: string;
  deviceFingerprint: string;
  name: string;
  role: 'admin' | 'user';
  /** When the session ends unless renewed (ms since the epoch); none for the accounts' own tokens. */
  expiresAt?: number;
}

/**
 * The demo's accounts, by token. A real app checks a session cookie or a
 * signed token here.
 */
export const DEMO_ACCOUNTS: Record<string, Omit<DemoUser, 'deviceFingerprint'>> = {
  'alice-token': { id: 'alice', name: 'Alice', role: 'admin' },
  'bob-token': { id: 'bob', name: 'Bob', role: 'user' },
  'carol-token': { id: 'carol', name: 'Carol', role: 'user' },
};
