import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { CONFIG_FIELDS } from '../../src/config/schema.ts';
import { defaultThresholds, renderAlertRules } from '../../src/metrics/prometheus-rules.ts';
import { ROOT, tempDir } from '../e2e/helpers.ts';
import { prometheusBinary } from './prometheus.ts';

const DIR = join(ROOT, 'deploy', 'prometheus');
const RULES = join(DIR, 'gpumon-alerts.rules.yml');
const TESTS = join(DIR, 'gpumon-alerts.test.yml');

function promtool(...args: string[]): { code: number | null; output: string } {
  const run = spawnSync(prometheusBinary('promtool'), args, { encoding: 'utf8', timeout: 60_000 });
  return { code: run.status, output: `${run.stdout}${run.stderr}` };
}

interface RulesFile {
  groups: { name: string; rules: { alert: string; expr: string; for?: string }[] }[];
}

describe('the Prometheus alert rules of deploy/prometheus', () => {
  it('pass promtool check rules', () => {
    const { code, output } = promtool('check', 'rules', RULES);
    assert.equal(code, 0, output);
    assert.match(output, /SUCCESS: 4 rules found/);
  });

  it('pass their unit tests with promtool test rules: each alert just before and just after its for', () => {
    const { code, output } = promtool('test', 'rules', TESTS);
    assert.equal(code, 0, output);
    assert.match(output, /SUCCESS/);
  });

  it('are what src/metrics/prometheus-rules.ts makes of the config defaults (run `npm run docs` after changing them)', () => {
    assert.equal(readFileSync(RULES, 'utf8'), renderAlertRules());
  });

  it("carry the thresholds of gpumon's own alerts (alerts.* defaults)", () => {
    const rules = (parse(readFileSync(RULES, 'utf8')) as RulesFile).groups.flatMap((g) => g.rules);
    const expr = (alert: string) => rules.find((r) => r.alert === alert)?.expr ?? '';
    assert.match(
      expr('GpuHighTemperature'),
      new RegExp(`>= ${CONFIG_FIELDS['alerts.highTempCelsius'].default}$`),
    );
    assert.match(expr('GpuHighLoad'), new RegExp(`>= ${CONFIG_FIELDS['alerts.highLoadPercent'].default}$`));
    assert.match(expr('GpuHighPower'), new RegExp(`>= ${CONFIG_FIELDS['alerts.highPowerPercent'].default}$`));
    assert.match(
      expr('GpuTemperatureSpike'),
      new RegExp(`> ${CONFIG_FIELDS['alerts.tempSpikeCelsius'].default}$`),
    );
  });

  it('fail their unit tests when a threshold moves: the tests check the thresholds, not only the syntax', () => {
    const dir = tempDir('prometheus-rules');
    writeFileSync(
      join(dir, 'gpumon-alerts.rules.yml'),
      renderAlertRules({ ...defaultThresholds(), highTempCelsius: 80.5 }),
    );
    copyFileSync(TESTS, join(dir, 'gpumon-alerts.test.yml'));
    const { code, output } = promtool('test', 'rules', join(dir, 'gpumon-alerts.test.yml'));
    assert.equal(code, 1, output);
    assert.match(output, /GpuHighTemperature/);
  });
});
