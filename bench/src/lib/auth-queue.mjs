/**
 * The auth of scenarios G and H: the bench's token auth behind a lookup
 * that serves `rate` requests per second in arrival order, as a session
 * store or identity service with a fixed capacity would. Both contenders
 * get the same one, so a reconnect storm meets the same bottleneck.
 */
import { nowUs } from './clock.mjs';

/** `authenticate` made async and limited to `rate` answers per second (0: answered at once, synchronously). */
export function throttledAuth(authenticate, rate) {
  if (!rate) return authenticate;
  const slotUs = 1e6 / rate;
  let nextFreeUs = 0;
  return (req) => {
    const now = nowUs();
    nextFreeUs = Math.max(now, nextFreeUs) + slotUs;
    const waitMs = (nextFreeUs - now) / 1000;
    return new Promise((resolve, reject) => {
      setTimeout(() => {
        try {
          resolve(authenticate(req));
        } catch (error) {
          reject(error);
        }
      }, waitMs);
    });
  };
}

/** The soft and hard limits on open files of this process, from /proc (Linux), or null elsewhere. */
export async function openFilesLimit() {
  try {
    const { readFile } = await import('node:fs/promises');
    const line = (await readFile('/proc/self/limits', 'utf8')).split('\n').find((l) => l.startsWith('Max open files'));
    const [soft, hard] = line.trim().split(/\s+/).slice(3, 5).map(Number);
    return { soft, hard };
  } catch {
    return null;
  }
}

/** Open descriptors of this process now (Linux), or null. */
export async function openFiles() {
  try {
    const { readdir } = await import('node:fs/promises');
    return (await readdir('/proc/self/fd')).length;
  } catch {
    return null;
  }
}
