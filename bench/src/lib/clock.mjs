/**
 * Timestamps shared by the server and load processes. `process.hrtime` reads
 * CLOCK_MONOTONIC, the same clock in every process on the machine, so a
 * send time taken in the server can be compared with a receive time taken
 * in the load process.
 */

/** Monotonic time in microseconds. */
export function nowUs() {
  const [s, ns] = process.hrtime();
  return s * 1e6 + Math.floor(ns / 1e3);
}

/** CPU time (user + system, µs) and the system part, since `start` (a `process.cpuUsage()`). */
export function cpuSince(start) {
  const d = process.cpuUsage(start);
  return { totalUs: d.user + d.system, systemUs: d.system };
}

/** Resolves after the current event-loop turn (lets I/O run). */
export function nextTurn() {
  return new Promise((resolve) => setImmediate(resolve));
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A small seeded PRNG (mulberry32): every contender gets the same "random" recipients. */
export function seededRandom(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
