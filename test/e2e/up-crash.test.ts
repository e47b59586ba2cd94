import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { countArchive, liveSamples } from './archive-rows.ts';
import { interrupt, startGpumon, tempDir, waitFor } from './helpers.ts';

const INTERVAL_MS = 200;
const GPUS = 8; // the simulator's default fleet: 2 hosts of 4 GPUs

/** `gpumon up` sampling every INTERVAL_MS, with the default archive flush (60 s): the samples wait in memory. */
const startUp = (archive: string) =>
  startGpumon(['up', '--port', '0', '--source', 'sim', '--archive', archive], {
    GPUMON_SCHEDULE_ENABLED: 'false',
    GPUMON_SOURCE_INTERVAL_MS: String(INTERVAL_MS),
    GPUMON_LOG_LEVEL: 'warn',
  });

const dashboard = (stdout: () => string) =>
  waitFor('the dashboard address', () => /http:\/\/127\.0\.0\.1:\d+/.exec(stdout())?.[0], 60_000);

describe('gpumon up, killed with SIGKILL', () => {
  it('loses at most the last second of samples: the rest is in its write-ahead log and archived at the next start', async (t) => {
    const archive = tempDir('up-crash');
    const first = startUp(archive);
    const url = await dashboard(first.stdout);
    await new Promise((resolve) => setTimeout(resolve, 4000));
    const emitted = await liveSamples(url);
    first.child.kill('SIGKILL');
    const killed = await first.exited;
    assert.equal(killed.signal, 'SIGKILL');
    const total = [...emitted.values()].reduce((sum, ts) => sum + ts.length, 0);
    assert.equal(emitted.size, GPUS);
    assert.ok(total >= GPUS * 10, `sampled for a while before the kill: ${total} samples`);

    const second = startUp(archive);
    await dashboard(second.stdout);
    const stopped = await interrupt(second, 60_000);
    assert.equal(stopped.code, 0, `the restart archives everything; stderr: ${second.stderr()}`);
    assert.match(second.stdout(), /\(\d+ from the spool of an earlier run\)/);

    const lastSeen = new Map([...emitted].map(([uuid, ts]) => [uuid, Math.max(...ts)]));
    const archived = await countArchive(archive, lastSeen);
    const perSecond = GPUS * (1000 / INTERVAL_MS);
    t.diagnostic(`emitted before the kill ${total}, archived of them ${archived.rows}`);
    assert.ok(
      total - archived.rows <= perSecond,
      `of ${total} samples emitted before the kill, ${archived.rows} are archived: ` +
        `${total - archived.rows} missing, at most ${perSecond} (one second) allowed`,
    );
    assert.equal(archived.distinct, archived.rows, 'none twice');
    const all = await countArchive(archive);
    assert.equal(all.distinct, all.rows, 'none twice in the whole archive');
  });
});
