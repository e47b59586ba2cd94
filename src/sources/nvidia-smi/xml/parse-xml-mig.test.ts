import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { nullIdentity, nullMetrics, parseSample } from '../../../metrics/sample.ts';
import { gpuHolders, holderKey } from '../../kubernetes/gpu-holders.ts';
import { parseListGpus } from '../list.ts';
import { A100_MIG_LIST, assertSample, MiB, testdata } from '../test-support.ts';
import { parseSmiXml } from './parse-xml.ts';

const HOST = 'test-host';
const NOW = Date.UTC(2026, 0, 1);
const A100_80GB = 'a100-sxm4-80gb-x4-mig-driver-535.54.03.xml';
const A100_40GB = 'a100-sxm4-40gb-mig-driver-510.47.03.xml';

describe('parseSmiXml: MIG instances are devices of their own', () => {
  test('A100 80GB on 535 (DTD v12): each of the 4 <mig_device> is a sample with its memory and ids, after its GPU', () => {
    const result = parseSmiXml(testdata(A100_80GB), { host: HOST, now: NOW });
    const parent = 'GPU-513536b6-7d19-9063-b049-1e69664bb298'; // line 153
    assert.deepEqual(
      result.samples.map((s) => s.uuid),
      [parent, ...[3, 4, 5, 6].map((gi) => `MIG-${parent}/${gi}/0`)], // lines 23-24, 54-55, 85-86, 116-117
    );
    for (const [position, gi] of [3, 4, 5, 6].entries()) {
      assertSample(result.samples[position + 1], {
        ...nullMetrics(),
        ...nullIdentity(),
        ts: Date.UTC(2023, 7, 4, 11, 44, 30), // line 4, the GPU's
        host: HOST,
        gpu_index: 0, // the parent's index
        uuid: `MIG-${parent}/${gi}/0`, // no `nvidia-smi -L`: the name drivers before 470 gave it
        model: 'NVIDIA A100-SXM4-80GB MIG', // line 9 (the profile is only in `nvidia-smi -L`)
        pci_bus_id: '00000000:01:00.0', // line 189, the GPU's
        driver_version: '535.54.03', // line 5
        vbios_version: '92.00.36.00.02', // line 155
        cuda_version: '12.2', // line 6
        parent_uuid: parent,
        mig_gpu_instance_id: gi,
        mig_compute_instance_id: 0,
        // Lines 41-44 (and the same in the other three): total 19968, reserved 0, used 12, free 19955 MiB.
        gpu_memory_total_bytes: 19968 * MiB,
        gpu_memory_reserved_bytes: 0,
        gpu_memory_used_bytes: 12 * MiB,
        gpu_memory_free_bytes: 19955 * MiB,
        gpu_ecc_errors_uncorrected_volatile_total: 0, // line 37: sram_uncorrectable 0
        // Utilization, temperature, power and clocks: the GPU's alone (null here, not the GPU's copied).
      });
    }
    for (const s of result.samples) parseSample(s, 'A100 535 MIG');
  });

  test('A100 40GB on 510 (DTD v11): 2 instances, GPU instances 1 and 2', () => {
    const result = parseSmiXml(testdata(A100_40GB), { host: HOST, now: NOW });
    assert.equal(result.schema, 'v11');
    const parent = 'GPU-27b94a00-ed54-5c24-b1fd-1054085de32a'; // line 90
    const migs = result.samples.filter((s) => s.parent_uuid === parent);
    assert.deepEqual(
      migs.map((s) => [s.uuid, s.mig_gpu_instance_id, s.mig_compute_instance_id, s.model]),
      [
        [`MIG-${parent}/1/0`, 1, 0, 'NVIDIA A100-SXM4-40GB MIG'], // lines 22-23, product_name line 9
        [`MIG-${parent}/2/0`, 2, 0, 'NVIDIA A100-SXM4-40GB MIG'], // lines 53-54
      ],
    );
    for (const s of migs) {
      assert.equal(s.gpu_memory_total_bytes, 19968 * MiB); // lines 40, 71
      assert.equal(s.gpu_memory_used_bytes, 19 * MiB); // lines 42, 73
      assert.equal(s.gpu_memory_free_bytes, 19948 * MiB); // lines 43, 74
      assert.equal(s.gpu_utilization_percent, null);
      assert.equal(s.gpu_power_draw_watts, null);
      assert.equal(s.gpu_temperature_celsius, null);
    }
    const gpu = result.samples.find((s) => s.uuid === parent);
    assert.equal(gpu?.gpu_memory_total_bytes, 40960 * MiB, 'the GPU keeps its own memory (line 156)');
    assert.equal(gpu?.parent_uuid, null);
    assert.equal(gpu?.mig_gpu_instance_id, null);
  });

  test('with `nvidia-smi -L`, an instance sample has its MIG UUID and its profile in the model, as NVML names it', () => {
    const result = parseSmiXml(testdata(A100_80GB), {
      host: HOST,
      now: NOW,
      listed: parseListGpus(A100_MIG_LIST),
    });
    assert.deepEqual(
      result.samples.slice(1, 3).map((s) => [s.uuid, s.model, s.mig_gpu_instance_id]),
      [
        ['MIG-aaaaaaaa-0000-0000-0000-000000000000', 'NVIDIA A100-SXM4-80GB MIG 1g.20gb', 3],
        ['MIG-bbbbbbbb-0000-0000-0000-000000000000', 'NVIDIA A100-SXM4-80GB MIG 1g.20gb', 4],
      ],
    );
    assert.equal(
      result.devices.find((d) => d.uuid === result.samples[1]?.uuid)?.model,
      result.samples[1]?.model,
    );
  });

  test("a MIG instance's sample is matched to the pod the kubelet says holds it, by either name", () => {
    const parent = 'GPU-513536b6-7d19-9063-b049-1e69664bb298';
    const holders = gpuHolders([
      {
        name: 'train',
        namespace: 'ml',
        containers: [
          // Drivers from 470: the MIG UUID; before: MIG-<GPU uuid>/<GI>/<CI> (both as the device plugin sends them).
          {
            name: 'a',
            devices: [
              {
                resource_name: 'nvidia.com/mig-1g.20gb',
                device_ids: ['MIG-aaaaaaaa-0000-0000-0000-000000000000'],
              },
            ],
          },
          {
            name: 'b',
            devices: [{ resource_name: 'nvidia.com/mig-1g.20gb', device_ids: [`MIG-${parent}/5/0`] }],
          },
        ],
      },
    ]);
    const withList = parseSmiXml(testdata(A100_80GB), {
      host: HOST,
      now: NOW,
      listed: parseListGpus(A100_MIG_LIST),
    }).samples;
    const holderOf = (uuid: string | undefined) => holders.get(holderKey(uuid ?? ''))?.container ?? null;
    assert.equal(holderOf(withList[1]?.uuid), 'a', 'GPU instance 3, listed as MIG-aaaaaaaa-...');
    assert.equal(holderOf(withList[3]?.uuid), 'b', 'GPU instance 5, not listed: MIG-<GPU uuid>/5/0');
    assert.equal(holderOf(withList[0]?.uuid), null, 'the parent GPU itself is held by no pod');
  });

  test('a <mig_device> with unreadable memory keeps its other readings and says why', () => {
    const xml = testdata(A100_80GB).replace('<used>12 MiB</used>', '<used>lots</used>');
    const result = parseSmiXml(xml, { host: HOST, now: NOW });
    assert.deepEqual(result.errors, []);
    assert.equal(result.samples[1]?.gpu_memory_used_bytes, null);
    assert.equal(result.samples[1]?.gpu_memory_total_bytes, 19968 * MiB);
    assert.ok(result.warnings.some((w) => /MIG MIG-GPU-.*\/3\/0: gpu_memory_used_bytes/.test(w.reason)));
  });
});
