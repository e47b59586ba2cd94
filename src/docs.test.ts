import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { renderConfigDoc } from './config/doc.ts';
import { renderErrorsDoc } from './errors-doc.ts';
import { METRICS } from './metrics/catalog.ts';
import { renderMetricsDoc } from './metrics/doc.ts';

const read = (path: string) => readFileSync(new URL(`../${path}`, import.meta.url), 'utf8');

describe('generated docs', () => {
  it('docs/metrics.md matches the catalog (run `npm run docs` after changing it)', () => {
    assert.equal(read('docs/metrics.md'), renderMetricsDoc());
  });

  it('docs/metrics.md lists every catalog metric', () => {
    const doc = read('docs/metrics.md');
    for (const m of METRICS) assert.ok(doc.includes(`\`${m.name}\``), m.name);
  });

  it('docs/configuration.md matches the config schema (run `npm run docs` after changing it)', () => {
    assert.equal(read('docs/configuration.md'), renderConfigDoc());
  });
});

describe('error codes doc', () => {
  it('docs/errors.md matches ERROR_MEANINGS (run `npm run docs` after changing it)', () => {
    assert.equal(read('docs/errors.md'), renderErrorsDoc());
  });
});
