import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { describe, test } from 'node:test';
import { interleave, machineTicks, NoiseMeter, processTicks, spread } from '../../bench/noise.ts';

// Spins for argv[1] ms, idles 400 ms (so a last sample sees all its CPU), prints its CPU seconds, and stays
// 500 ms more before it exits (so a step can end while it is still alive: see `printed`).
const SPIN =
  'const end = Date.now() + Number(process.argv[1]); while (Date.now() < end) {} ' +
  'setTimeout(() => { const u = process.cpuUsage(); console.log((u.user + u.system) / 1e6); ' +
  'setTimeout(() => {}, 500); }, 400);';

/**
 * A process that keeps one core busy for `ms`. `printed` resolves with the CPU seconds it used once it has
 * said so, while it still runs; `cpuSeconds` with the same once it has exited (and been waited for, when its
 * time joins this process's children's time).
 */
function spinner(ms: number): {
  pid: number | undefined;
  printed: Promise<number>;
  cpuSeconds: Promise<number>;
} {
  const child = spawn(process.execPath, ['-e', SPIN, String(ms)], { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  const printed = new Promise<number>((resolve) =>
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.endsWith('\n')) resolve(Number(out));
    }),
  );
  return {
    pid: child.pid,
    printed,
    cpuSeconds: new Promise((resolve) => child.on('exit', () => resolve(Number(out)))),
  };
}

/** Core-seconds of a share of all cores over a step. */
const coreSeconds = (share: number, wallSeconds: number) => share * availableParallelism() * wallSeconds;

describe('bench/noise', () => {
  test('machine ticks: busy counts user, nice, system, irq, softirq and steal; idle and iowait are not busy', () => {
    const stat = 'cpu  100 5 50 1000 20 3 2 10 7 0\ncpu0 50 2 25 500 10 1 1 5 0 0\n';
    assert.deepEqual(machineTicks(stat), { busy: 170, total: 1190 });
  });

  test('a /proc/stat that does not start with the cpu line is refused', () => {
    assert.throws(() => machineTicks('intr 1 2 3\n'), /unexpected \/proc\/stat line/);
  });

  test('a process that is gone has no ticks', () => {
    assert.equal(processTicks(2 ** 22 + 12345), undefined);
  });

  test('median, quartiles and range of a spread', () => {
    assert.deepEqual(spread([5, 1, 3, 2, 4]), { median: 3, min: 1, max: 5, q1: 2, q3: 4, n: 5 });
    assert.equal(spread([1, 2, 3, 4]).median, 2.5);
    assert.throws(() => spread([]), /no values/);
  });

  test('a busy process the step does not run counts as other load and marks the step disturbed', async () => {
    const meter = new NoiseMeter(0.15).start();
    const untracked = spinner(1000);
    // Ended while the spinner still runs: once waited for, its time would be this process's children's (own).
    const used = await untracked.printed;
    const noise = meter.stop();
    await untracked.cpuSeconds;
    assert.ok(noise.machineBusy >= noise.otherShare);
    // All of the spinner's CPU is other load (and whatever else ran meanwhile).
    assert.ok(
      coreSeconds(noise.otherShare, noise.wallSeconds) >= 0.8 * used,
      `other load ${coreSeconds(noise.otherShare, noise.wallSeconds)} core-s, spinner ${used} s`,
    );
    if (used / (availableParallelism() * noise.wallSeconds) > 0.15) assert.equal(noise.disturbed, true);
  });

  test("a tracked process's CPU is the step's own, even after it has exited", async () => {
    const self = process.cpuUsage();
    const meter = new NoiseMeter(0.15).start();
    const tracked = spinner(1000);
    meter.track(tracked.pid);
    const used = await tracked.cpuSeconds;
    const noise = meter.stop();
    const selfUsage = process.cpuUsage(self);
    const selfSeconds = (selfUsage.user + selfUsage.system) / 1e6;
    const tested = coreSeconds(noise.testedShare, noise.wallSeconds);
    // Tracked from just after its start: all but its first moments. No more than it used, plus this test
    // process (the meter tracks it too), the child's start before its script runs (which the child's own
    // count leaves out; slower on a loaded machine) and the ticks' 10 ms rounding.
    assert.ok(
      tested >= 0.7 * used && tested <= used + selfSeconds + 0.15,
      `tested ${tested} core-s, spinner ${used} s, this process ${selfSeconds} s`,
    );
    assert.ok(noise.testedShare <= noise.machineBusy + 1e-9);
  });

  test('interleave runs a, b, a, b and reports the ratio from the medians and the pair ratios', async () => {
    const order: string[] = [];
    const a = [10, 12, 11];
    const b = [20, 30, 22];
    const result = await interleave(
      3,
      async (_meter, i) => {
        order.push(`a${i}`);
        return a[i] as number;
      },
      async (_meter, i) => {
        order.push(`b${i}`);
        return b[i] as number;
      },
    );
    assert.deepEqual(order, ['a0', 'b0', 'a1', 'b1', 'a2', 'b2']);
    assert.equal(result.a.all.median, 11);
    assert.equal(result.b.all.median, 22);
    assert.equal(result.ratioOfMedians, 2);
    assert.deepEqual([result.pairRatio.min, result.pairRatio.max], [2, 2.5]);
    assert.equal(result.steps, 6);
    assert.equal(result.a.steps.length, 3);
  });

  test('interleave refuses a pair count that is not a whole number >= 1', async () => {
    await assert.rejects(
      interleave(
        0,
        async () => 1,
        async () => 1,
      ),
      /pairs must be a whole number >= 1/,
    );
  });
});
