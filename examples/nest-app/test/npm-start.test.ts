/**
 * `npm start` at the repository root, stopped the way `docker stop` or a
 * plain `kill` stops it: one SIGTERM to the npm process alone. npm passes it
 * to its child only, so the server must be that child, not a shell that dies
 * and leaves the server running.
 */
import { execFileSync } from 'node:child_process';
import { connect } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { DemoProcess } from './demo-process.js';

/** Every process below `pid`, from `ps` (its children, theirs, …). */
function descendantsOf(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const line of execFileSync('ps', ['-e', '-o', 'pid=,ppid='], { encoding: 'utf8' }).trim().split('\n')) {
    const [child = 0, parent = 0] = line.trim().split(/\s+/).map(Number);
    children.set(parent, [...(children.get(parent) ?? []), child]);
  }
  const found: number[] = [];
  const visit = (parent: number) => {
    for (const child of children.get(parent) ?? []) {
      found.push(child);
      visit(child);
    }
  };
  visit(pid);
  return found;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const portOpen = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });

/** Polls `check` until it holds or `timeoutMs` passes; resolves with whether it held. */
async function eventually(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return check();
}

const leftovers: number[] = [];
afterAll(() => {
  for (const pid of leftovers) if (alive(pid)) process.kill(pid, 'SIGKILL');
});

describe('npm start', () => {
  it('stops the server when only the npm process gets SIGTERM', async () => {
    const demo = await DemoProcess.startWithNpm();
    const below = descendantsOf(demo.child.pid!);
    leftovers.push(demo.child.pid!, ...below);
    expect((await fetch(`${demo.base}/health/live`)).status).toBe(200);

    process.kill(demo.child.pid!, 'SIGTERM');
    const code = await demo.exited;
    const stopped = await eventually(async () => below.every((pid) => !alive(pid)) && !(await portOpen(demo.port)), 10_000);
    expect(stopped, `still running: ${below.filter(alive).join(', ')}\n${demo.output}`).toBe(true);
    expect(code, demo.output).toBe(0); // the demo closed its clients and exited; npm reports no failure
  }, 90_000);
});
