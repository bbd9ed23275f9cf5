/**
 * Sizes of each scenario per profile. `full` is `npm run bench`, `quick`
 * is `--quick` (about 1.5 minutes), `smoke` is what the test runs (tiny N,
 * one repetition: it proves the harness works, not how fast anything is).
 */
/** Scenarios G and H: the parts every profile shares. */
const IDLE = { perLoad: 10_000, addressesPerLoad: 4, authRate: 5000, window: 256, settleMs: 500, timeoutMs: 120_000 };

export const PROFILES = {
  full: {
    reps: 3,
    A: {
      clients: [1000, 5000, 10000],
      burst: 10,
      warmupMs: 250,
      roundMs: 500,
      timeoutMs: 30_000,
      // The class-transformer loop restates the original's cost; N=1k and 5k show it (as in the issue).
      skipCases: { 'naive-ct': ['N=10000'] },
    },
    B: { users: 1000, devices: 2, perTurn: 16, rates: [5000, 10000], warmupMs: 250, roundMs: 500, latencyMs: 1000, timeoutMs: 30_000 },
    C: { clients: 5000, window: 256, settleMs: 200 },
    D: { users: 10000, delayMs: 1, timeoutMs: 60_000 },
    E: { sockets: [1000, 10000], perScope: 10, perTurn: 16, warmupMs: 250, roundMs: 500, timeoutMs: 30_000 },
    F: { users: 1000, devices: 2, perTurn: 16, rate: 5000, settleMs: 200, warmupMs: 250, roundMs: 500, latencyMs: 1000, timeoutMs: 30_000 },
    // Only when named: `--scenarios I`.
    I: { users: 1000, devices: 2, perTurn: 16, burst: 1, broadcasts: 100, broadcastMs: 5000, rate: 5000, settleMs: 200, warmupMs: 250, roundMs: 500, latencyMs: 1000, timeoutMs: 30_000 },
    // Only when named: `--scenarios J`.
    J: { reps: 5, users: 1000, devices: 2, perTurn: 16, burst: 1, broadcasts: 200, broadcastMs: 5000, settleMs: 200, warmupMs: 300, roundMs: 1000, timeoutMs: 30_000 },
    // Up to the open-files limit less fdReserve (19,800 under a 20,000 limit); 5 s heartbeat at every N, 30 s at the largest.
    G: {
      ...IDLE,
      reps: 2,
      clients: [2000, 10000],
      fdReserve: 200,
      maxClients: 19_800,
      heartbeatMs: 5000,
      hbWindowMs: 10_000,
      heartbeatSlowMs: 30_000,
      // The large pending budget is about storms; the slow heartbeat case adds nothing to that.
      skipCases: { 'wshub-pending': [/hb=30000/] },
    },
    H: { ...IDLE, reps: 1, clients: 100_000, workers: 7, perLoad: 17_000, heartbeatMs: 30_000, hbWindowMs: 30_000 },
  },
  quick: {
    reps: 2,
    // The class-transformer loop only restates the original's cost; the full run has it.
    skip: ['naive-ct'],
    A: { clients: [1000], burst: 10, warmupMs: 150, roundMs: 300, timeoutMs: 20_000 },
    B: { users: 1000, devices: 2, perTurn: 16, rates: [5000, 10000], warmupMs: 150, roundMs: 300, latencyMs: 500, timeoutMs: 20_000 },
    C: { clients: 2000, window: 256, settleMs: 100 },
    D: { users: 1000, delayMs: 1, timeoutMs: 30_000 },
    E: { sockets: [200, 2000], perScope: 10, perTurn: 16, warmupMs: 150, roundMs: 300, timeoutMs: 20_000 },
    F: { users: 1000, devices: 2, perTurn: 16, rate: 5000, settleMs: 100, warmupMs: 150, roundMs: 300, latencyMs: 500, timeoutMs: 20_000 },
    I: { users: 1000, devices: 2, perTurn: 16, burst: 1, broadcasts: 50, broadcastMs: 5000, rate: 5000, settleMs: 100, warmupMs: 150, roundMs: 300, latencyMs: 500, timeoutMs: 20_000 },
    J: { users: 1000, devices: 2, perTurn: 16, burst: 1, broadcasts: 50, broadcastMs: 3000, settleMs: 100, warmupMs: 150, roundMs: 300, timeoutMs: 20_000 },
    G: { ...IDLE, clients: [2000], fdReserve: 200, maxClients: 10_000, heartbeatMs: 5000, hbWindowMs: 5000, maxOnly: 10_000 },
    H: { ...IDLE, clients: 10_000, workers: 2, perLoad: 5000, heartbeatMs: 2000, hbWindowMs: 4000 },
  },
  smoke: {
    reps: 1,
    // A variant of wshub for one question of G (the storm); the full and quick runs have it.
    skip: ['wshub-pending'],
    A: { clients: [20], burst: 5, warmupMs: 30, roundMs: 60, timeoutMs: 5000 },
    B: { users: 10, devices: 2, perTurn: 4, rates: [500], warmupMs: 30, roundMs: 60, latencyMs: 100, timeoutMs: 5000 },
    C: { clients: 20, window: 8, settleMs: 10 },
    D: { users: 20, delayMs: 1, timeoutMs: 5000 },
    E: { sockets: [20], perScope: 2, perTurn: 4, warmupMs: 30, roundMs: 60, timeoutMs: 5000 },
    F: { users: 10, devices: 2, perTurn: 4, rate: 500, settleMs: 50, warmupMs: 30, roundMs: 60, latencyMs: 100, timeoutMs: 5000 },
    I: { users: 10, devices: 2, perTurn: 4, burst: 1, broadcasts: 20, broadcastMs: 1000, rate: 500, settleMs: 50, warmupMs: 30, roundMs: 60, latencyMs: 100, timeoutMs: 5000 },
    J: { users: 10, devices: 2, perTurn: 4, burst: 1, broadcasts: 20, broadcastMs: 1000, settleMs: 50, warmupMs: 30, roundMs: 60, timeoutMs: 5000 },
    G: { ...IDLE, clients: [], fdReserve: 200, maxClients: 200, maxOnly: 200, perLoad: 100, heartbeatMs: 200, hbWindowMs: 400, settleMs: 20, timeoutMs: 20_000 },
    H: { ...IDLE, clients: 300, workers: 2, perLoad: 150, heartbeatMs: 200, hbWindowMs: 400, settleMs: 20, timeoutMs: 20_000 },
  },
};
