import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LiveState } from '../pipeline/live-state.ts';
import { buildFleet } from '../sources/sim/fleet.ts';
import { SimSource } from '../sources/sim/sim-source.ts';
import type { GpuProcess } from '../sources/source.ts';
import type { ApiErrorBody, GpuProcessesResponse } from './api-types.ts';
import { createApp } from './app.ts';
import { NO_LIVE_SOURCE, ProcessList } from './processes.ts';
import { depsOf, sampleOf } from './test-support.ts';

const NOW = Date.parse('2026-12-07T12:00:00Z');
const GiB = 1024 ** 3;
const PARENT = 'GPU-node-a-0';
const MIG = 'MIG-aaaaaaaa-0000-0000-0000-000000000000';

/** node-a: GPU 0 carved into one MIG instance (GPU instance 3), GPU 1 whole. */
function live(): LiveState {
  const state = new LiveState(60_000);
  state.apply([
    sampleOf('node-a', 0, NOW),
    sampleOf('node-a', 0, NOW, { uuid: MIG, parent_uuid: PARENT, mig_gpu_instance_id: 3 }),
    sampleOf('node-a', 1, NOW),
  ]);
  return state;
}

const LISTED: GpuProcess[] = [
  { uuid: 'GPU-node-a-1', pid: 40, name: 'python3', usedMemoryBytes: 2 * GiB },
  { uuid: 'GPU-node-a-1', pid: 41, name: 'tritonserver', usedMemoryBytes: 30 * GiB },
  { uuid: 'GPU-node-a-1', pid: 42, name: null, usedMemoryBytes: null },
  { uuid: MIG, pid: 50, name: 'python3', usedMemoryBytes: 9 * GiB },
];

async function get(app: ReturnType<typeof createApp>, uuid: string) {
  const res = await app.request(`/api/gpus/${encodeURIComponent(uuid)}/processes`);
  return { status: res.status, body: (await res.json()) as GpuProcessesResponse & ApiErrorBody };
}

describe('GET /api/gpus/:uuid/processes: the processes of a GPU from the live source', () => {
  test("lists the GPU's processes, largest memory first, those of unknown memory last", async () => {
    const app = createApp(depsOf(live(), { processes: async () => LISTED }), { now: () => NOW });
    const { status, body } = await get(app, 'GPU-node-a-1');
    assert.equal(status, 200);
    assert.equal(body.unavailable, null);
    assert.equal(body.at, NOW);
    assert.deepEqual(
      body.processes.map((p) => [p.pid, p.name, p.usedMemoryBytes, p.migInstance]),
      [
        [41, 'tritonserver', 30 * GiB, null],
        [40, 'python3', 2 * GiB, null],
        [42, null, null, null],
      ],
    );
  });

  test("a GPU carved into MIG instances lists its instances' processes, each named by its instance", async () => {
    const app = createApp(depsOf(live(), { processes: async () => LISTED }), { now: () => NOW });
    const parent = await get(app, PARENT);
    assert.deepEqual(
      parent.body.processes.map((p) => [p.pid, p.deviceUuid, p.migInstance]),
      [[50, MIG, 'MIG GPU instance 3']],
    );
    const instance = await get(app, MIG);
    assert.deepEqual(
      instance.body.processes.map((p) => [p.pid, p.migInstance]),
      [[50, 'MIG GPU instance 3']],
    );
  });

  test('a GPU without processes has an empty list, not a reason', async () => {
    const app = createApp(depsOf(live(), { processes: async () => LISTED }), { now: () => NOW });
    const { body } = await get(app, 'GPU-node-a-0');
    assert.equal(body.unavailable, null);
    assert.deepEqual(
      body.processes.map((p) => p.pid),
      [50],
      'the MIG instance only',
    );
  });

  test('a server without a live source says that processes need one', async () => {
    const app = createApp(depsOf(new LiveState(60_000), { sources: () => [] }), { now: () => NOW });
    const { status, body } = await get(app, 'GPU-anything');
    assert.equal(status, 200);
    assert.equal(body.unavailable, NO_LIVE_SOURCE);
    assert.deepEqual(body.processes, []);
  });

  test('a live source that cannot list processes is named in the reason', async () => {
    const app = createApp(depsOf(live()), { now: () => NOW });
    const { body } = await get(app, 'GPU-node-a-1');
    assert.match(body.unavailable ?? '', /live source \(sim\) does not list processes/);
  });

  test('a source that fails to list them gives its error as the reason', async () => {
    const app = createApp(
      depsOf(live(), {
        processes: async () => {
          throw new Error('nvidia-smi --query-compute-apps exited 9');
        },
      }),
      { now: () => NOW },
    );
    const { status, body } = await get(app, 'GPU-node-a-1');
    assert.equal(status, 200);
    assert.match(
      body.unavailable ?? '',
      /could not list processes: nvidia-smi --query-compute-apps exited 9/,
    );
  });

  test('an unknown GPU is 404 NOT_FOUND', async () => {
    const app = createApp(depsOf(live(), { processes: async () => LISTED }), { now: () => NOW });
    const { status, body } = await get(app, 'GPU-nowhere');
    assert.equal(status, 404);
    assert.equal(body.error.code, 'NOT_FOUND');
  });

  test('the source is asked at most once per 2 s however many requests come', async () => {
    let now = NOW;
    let reads = 0;
    const list = new ProcessList(
      async () => {
        reads++;
        return LISTED;
      },
      () => now,
    );
    await Promise.all([list.get(), list.get(), list.get()]);
    assert.equal(reads, 1, 'requests at once share one read');
    now += 1999;
    await list.get();
    assert.equal(reads, 1);
    now += 1;
    await list.get();
    assert.equal(reads, 2);
  });
});

describe("the simulator's processes", () => {
  test('GPUs holding memory run a few processes whose memory adds up to that beyond the driver; idle GPUs none', async () => {
    const options = { hosts: 2, gpusPerHost: 8, seed: 11 };
    const source = new SimSource(options);
    await source.open();
    const samples = await source.read(NOW);
    const processes = await source.processes();
    const fleet = buildFleet(options);
    for (const s of samples) {
      const gpu = fleet.find((g) => g.uuid === s.uuid);
      const own = processes.filter((p) => p.uuid === s.uuid);
      const used = s.gpu_memory_used_bytes as number;
      const total = s.gpu_memory_total_bytes as number;
      // Idle, or a bursty GPU between bursts: the driver's memory only, no process.
      if (gpu?.personality === 'idle' || used - 0.006 * total < 256 * 1024 ** 2) {
        assert.deepEqual(own, [], `${s.uuid} (${gpu?.personality}) idle: no process`);
        assert.notEqual(gpu?.personality, 'training');
        continue;
      }
      assert.ok(
        own.length >= 1 && own.length <= 3,
        `${s.uuid} (${gpu?.personality}): ${own.length} processes`,
      );
      const held = own.reduce((sum, p) => sum + (p.usedMemoryBytes as number), 0);
      assert.ok(held < used && used - held <= 0.01 * total, `${s.uuid}: ${held} of ${used} used`);
      assert.ok(
        own.every((p) => p.pid > 0 && p.name && (p.usedMemoryBytes as number) > 0),
        `${s.uuid}: a pid, a name and memory each`,
      );
    }
    assert.ok(
      processes.some((p) => p.name === 'tritonserver') && processes.some((p) => p.name === 'python3'),
      'inference servers and Python jobs',
    );
    await source.read(NOW + 1000);
    const again = await source.processes();
    assert.deepEqual(
      again.map((p) => p.pid),
      processes.map((p) => p.pid),
      'a process keeps its pid from one read to the next',
    );
    await source.close();
  });
});
