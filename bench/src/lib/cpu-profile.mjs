/**
 * A CPU profile of a measured window of this process, through the
 * inspector (no `--cpu-prof` flag, so a process killed at the end still
 * leaves its profile): `start()` before the window, `stop(name)` after it
 * writes `<dir>/<name>-<pid>-<n>.cpuprofile`. `bench/src/profile-summary.mjs`
 * sums such files by function and by file.
 */
export function cpuProfiler(dir) {
  let session;
  let n = 0;
  return {
    async start() {
      if (!dir) return;
      if (!session) {
        const { Session } = await import('node:inspector/promises');
        session = new Session();
        session.connect();
        await session.post('Profiler.enable');
        await session.post('Profiler.setSamplingInterval', { interval: 100 });
      }
      await session.post('Profiler.start');
    },
    async stop(name) {
      if (!dir || !session) return;
      const { profile } = await session.post('Profiler.stop');
      const { mkdir, writeFile } = await import('node:fs/promises');
      await mkdir(dir, { recursive: true });
      await writeFile(`${dir}/${name}-${process.pid}-${++n}.cpuprofile`, JSON.stringify(profile));
    },
  };
}
