import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseComputeApps } from './csv.ts';
import { parseListGpus } from './list.ts';
import { MiB, testdata } from './test-support.ts';

// The shared capture of an H100 in MIG mode (590.48.01, nvidia_gpu_exporter's capture tool): `-L`, the default
// table, `-q` text and the CSV queries, no `-q -x`. Its processes' GPU instance / compute instance ids are in the
// `-q` text (lines 2275-2293) and the default table (lines 1927-1929), two formats gpumon has no parser for; the
// CSV it reads names only the parent GPU. MIG attribution is tested on XML (xml/parse-xml-mig.test.ts).
const CAPTURE = 'capture__linux-x86_64__nvidia-h100-mig__590.48.01.txt';
const GPU = 'GPU-00000000-0000-0000-0000-000000000000';

/** The lines of the capture's section `title`, up to the next banner. */
function section(title: string): string {
  const text = testdata(CAPTURE);
  const start = text.indexOf(`# ${title}\n`);
  assert.ok(start >= 0, `no section ${title}`);
  const body = text.indexOf('\n#####', text.indexOf('\n', text.indexOf('\n#####', start) + 1));
  return text.slice(start, body);
}

describe('the H100 MIG capture (590.48.01)', () => {
  test('-L lists the GPU, then its four MIG devices with their UUID, profile and parent', () => {
    // Lines 1186-1190 (the section `capabilities :: list (-L)`).
    assert.deepEqual(parseListGpus(section('capabilities :: list (-L)')), [
      { index: 0, name: 'NVIDIA H100 80GB HBM3', uuid: GPU, parentUuid: null },
      { index: 0, name: '3g.40gb', uuid: 'MIG-00000000-0000-0000-0000-000000000000', parentUuid: GPU },
      { index: 1, name: '2g.20gb', uuid: 'MIG-00000001-0000-0000-0000-000000000001', parentUuid: GPU },
      { index: 2, name: '1g.10gb', uuid: 'MIG-00000002-0000-0000-0000-000000000002', parentUuid: GPU },
      { index: 3, name: '1g.10gb', uuid: 'MIG-00000003-0000-0000-0000-000000000003', parentUuid: GPU },
    ]);
  });

  test('--query-compute-apps names only the parent GPU for the three processes of GPU instance 2', () => {
    // Lines 2313-2315: the `load` section (the `idle` one has no process). `-q` says they run in GPU instance 2,
    // compute instance 0, which is MIG device 0 (3g.40gb): this is why the live source reads `-q -x` in MIG mode.
    const { processes, errors } = parseComputeApps(testdata(CAPTURE));
    assert.deepEqual(errors, []);
    assert.deepEqual(processes, [
      { uuid: GPU, pid: 21180, name: '/root/tools/memhog', usedMemoryBytes: 2296 * MiB },
      { uuid: GPU, pid: 21181, name: '/root/tools/memhog', usedMemoryBytes: 1272 * MiB },
      { uuid: GPU, pid: 21198, name: './gpu_burn', usedMemoryBytes: 7484 * MiB },
    ]);
  });
});
