// Writes the generated reference docs: docs/metrics.md (from the metric catalog) and docs/configuration.md
// (from the config schema), docs/errors.md, and deploy/prometheus/gpumon-alerts.rules.yml (from the alerts.*
// defaults), and the Grafana dashboards deploy/grafana/dashboards/*.json (from src/dashboards, which follow the
// metric catalog). `npm run docs`; src/docs.test.ts and test/prometheus/rules.test.ts fail when a committed file drifts.
import { writeFileSync } from 'node:fs';
import { renderConfigDoc } from '../src/config/doc.ts';
import { writeDashboards } from '../src/dashboards/generate.ts';
import { renderErrorsDoc } from '../src/errors-doc.ts';
import { renderMetricsDoc } from '../src/metrics/doc.ts';
import { renderAlertRules } from '../src/metrics/prometheus-rules.ts';

const root = new URL('..', import.meta.url);
writeFileSync(new URL('docs/metrics.md', root), renderMetricsDoc());
writeFileSync(new URL('docs/configuration.md', root), renderConfigDoc());
console.log('wrote docs/metrics.md and docs/configuration.md');
writeFileSync(new URL('docs/errors.md', root), renderErrorsDoc());
writeFileSync(new URL('deploy/prometheus/gpumon-alerts.rules.yml', root), renderAlertRules());
console.log('wrote deploy/prometheus/gpumon-alerts.rules.yml');
console.log(`wrote ${writeDashboards().join(', ')}`);
