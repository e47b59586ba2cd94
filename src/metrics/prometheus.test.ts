import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { testSample } from '../testing/samples.ts';
import { escapeLabelValue } from './exposition.ts';
import { renderCpuPackages, renderPrometheus } from './prometheus.ts';

describe('Prometheus exposition', () => {
  it('writes one family per catalog metric with HELP, TYPE and GPU labels, leaving null values out', () => {
    const text = renderPrometheus(
      [
        testSample({ ts: 1, gpu_temperature_celsius: 61.5, gpu_energy_joules_total: 1234 }, 0),
        testSample({ ts: 1, gpu_temperature_celsius: null, gpu_energy_joules_total: 99 }, 1),
      ],
      [],
    );
    const lines = text.split('\n');
    assert.ok(lines.includes('# TYPE gpu_temperature_celsius gauge'));
    assert.ok(lines.includes('# TYPE gpu_energy_joules_total counter'));
    assert.ok(
      lines.includes(
        'gpu_temperature_celsius{host="node-1",gpu="0",uuid="GPU-node-1-0",model="NVIDIA H100 80GB HBM3"} 61.5',
      ),
    );
    assert.equal(
      lines.filter((l) => l.startsWith('gpu_temperature_celsius{')).length,
      1,
      'GPU 1 has no reading',
    );
    assert.equal(lines.filter((l) => l.startsWith('gpu_energy_joules_total{')).length, 2);
    assert.ok(!text.includes('gpu_fan_speed_percent'), 'a metric no GPU reported has no family');
  });

  it('exports source health as last success time and failures by kind', () => {
    const text = renderPrometheus(
      [],
      [
        {
          source: 'nvml',
          lastSuccessMs: 1_700_000_000_500,
          lastReadDurationMs: 2,
          errors: { timeout: 3 },
          notice: null,
        },
      ],
    );
    assert.match(text, /^gpumon_source_last_success_timestamp_seconds\{source="nvml"\} 1700000000\.5$/m);
    assert.match(text, /^gpumon_source_errors_total\{source="nvml",kind="timeout"\} 3$/m);
  });

  it('escapes backslashes, quotes and newlines in label values', () => {
    assert.equal(escapeLabelValue('a "b"\\c\nd'), 'a \\"b\\"\\\\c\\nd');
    const text = renderPrometheus(
      [testSample({ ts: 1, model: 'NVIDIA "A100", SXM', gpu_temperature_celsius: 1 })],
      [],
    );
    assert.match(text, /model="NVIDIA \\"A100\\", SXM"/);
  });

  it("writes each CPU package's temperature as a gauge labelled host, device and label, escaped", () => {
    const text = renderCpuPackages('node "a"', [
      { device: 'hwmon0', label: 'Tdie', celsius: 39.8 },
      { device: 'hwmon3', label: 'Package id 1', celsius: 44 },
    ]);
    assert.deepEqual(text.split('\n').slice(1), [
      '# TYPE host_cpu_package_temperature_celsius gauge',
      'host_cpu_package_temperature_celsius{host="node \\"a\\"",device="hwmon0",label="Tdie"} 39.8',
      'host_cpu_package_temperature_celsius{host="node \\"a\\"",device="hwmon3",label="Package id 1"} 44',
      '',
    ]);
    assert.match(text, /^# HELP host_cpu_package_temperature_celsius .*hottest/);
    assert.equal(renderCpuPackages('node-1', []), '', 'no family without a package');
  });
});
