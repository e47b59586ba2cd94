import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { cudaVersionText } from './cuda-version.ts';

describe('cudaVersionText', () => {
  test('reads NVML and DCGM integers as major.minor', () => {
    assert.equal(cudaVersionText(12020), '12.2'); // nvmlSystemGetCudaDriverVersion_v2 on 535
    assert.equal(cudaVersionText('12010'), '12.1'); // DCGM_FI_CUDA_DRIVER_VERSION="12010" (DataDog's T4 scrape)
    assert.equal(cudaVersionText(13010), '13.1');
    assert.equal(cudaVersionText(11060), '11.6');
  });

  test('anything that is not such an integer gives null', () => {
    for (const bad of [0, -12020, 12.5, 999, '', 'N/A', '12.2', null, undefined, Number.NaN]) {
      assert.equal(cudaVersionText(bad), null, String(bad));
    }
  });
});
