import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { renderDcgmExporter } from '../metrics/dcgm-exporter.ts';
import { LiveState } from '../pipeline/live-state.ts';
import { parseListGpus } from '../sources/nvidia-smi/list.ts';
import { A100_MIG_LIST } from '../sources/nvidia-smi/test-support.ts';
import { parseSmiXml } from '../sources/nvidia-smi/xml/parse-xml.ts';
import type { GpusResponse, SeriesResponse } from './api-types.ts';
import { createApp } from './app.ts';
import { depsOf } from './test-support.ts';

const NOW = Date.UTC(2025, 0, 15, 12, 0, 0);
const MIN = 60_000;
const CAPTURE = new URL(
  '../sources/nvidia-smi/testdata/a100-sxm4-80gb-x4-mig-driver-535.54.03.xml',
  import.meta.url,
);
const PARENT = 'GPU-513536b6-7d19-9063-b049-1e69664bb298';

/** The A100 535 MIG capture read twice, a minute apart: the GPU and its four instances. */
function live(): LiveState {
  const { samples } = parseSmiXml(readFileSync(CAPTURE, 'utf8'), {
    host: 'node-a',
    now: NOW,
    listed: parseListGpus(A100_MIG_LIST),
  });
  const state = new LiveState(60 * MIN);
  for (const ts of [NOW - MIN, NOW]) state.apply(samples.map((s) => ({ ...s, ts })));
  return state;
}

const appOf = (state: LiveState) => createApp(depsOf(state), { now: () => NOW, sampleIntervalMs: MIN });

describe('MIG instances in the live API', () => {
  test('GET /api/gpus lists each instance as a device after its GPU, with its parent and ids', async () => {
    const body = (await (await appOf(live()).request('/api/gpus')).json()) as GpusResponse;
    assert.deepEqual(
      body.gpus.map((g) => [g.uuid, g.parent_uuid, g.mig_gpu_instance_id, g.gpu_memory_total_bytes]),
      [
        [PARENT, null, null, 81920 * 2 ** 20],
        ['MIG-aaaaaaaa-0000-0000-0000-000000000000', PARENT, 3, 19968 * 2 ** 20],
        ['MIG-bbbbbbbb-0000-0000-0000-000000000000', PARENT, 4, 19968 * 2 ** 20],
        [`MIG-${PARENT}/5/0`, PARENT, 5, 19968 * 2 ** 20],
        [`MIG-${PARENT}/6/0`, PARENT, 6, 19968 * 2 ** 20],
      ],
    );
  });

  test('an instance has series of its own, also under the name with slashes (URL-encoded)', async () => {
    const app = appOf(live());
    for (const uuid of ['MIG-aaaaaaaa-0000-0000-0000-000000000000', `MIG-${PARENT}/5/0`]) {
      const res = await app.request(
        `/api/gpus/${encodeURIComponent(uuid)}/series?metric=gpu_memory_used_bytes&minutes=5`,
      );
      assert.equal(res.status, 200, uuid);
      const body = (await res.json()) as SeriesResponse;
      assert.deepEqual(body.values, [12 * 2 ** 20, 12 * 2 ** 20], uuid);
    }
  });

  test("/metrics in dcgm-exporter's names labels each instance as dcgm-exporter does", () => {
    const text = renderDcgmExporter(live().latest());
    assert.match(
      text,
      new RegExp(
        `DCGM_FI_DEV_FB_USED\\{gpu="0",UUID="${PARENT}",pci_bus_id="00000000:01:00.0",device="nvidia0",modelName="NVIDIA A100-SXM4-80GB",GPU_I_PROFILE="1g.20gb",GPU_I_ID="3",Hostname="node-a",DCGM_FI_DRIVER_VERSION="535.54.03"\\} 12\\n`,
      ),
    );
    assert.match(
      text,
      /modelName="NVIDIA A100-SXM4-80GB",GPU_I_ID="5",Hostname/,
      'no profile known: no GPU_I_PROFILE',
    );
  });
});
