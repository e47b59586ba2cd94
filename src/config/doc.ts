import { stringify } from 'yaml';
import { CONFIG_FIELDS, type ConfigField, envName } from './schema.ts';

/** docs/configuration.md, generated from the schema (`npm run docs`); a test fails when the file drifts. */
export function renderConfigDoc(): string {
  const rows = Object.entries(CONFIG_FIELDS as Record<string, ConfigField>).map(([key, f]) => {
    const env = [envName(key), ...(f.aliases ?? [])].map((e) => `\`${e}\``).join(', ');
    return `| \`${key}\` | \`${JSON.stringify(f.default)}\` | ${f.allowed.replace(/\|/g, '\\|')} | ${env} | ${f.help.replace(/\|/g, '\\|')} |`;
  });
  const example: Record<string, unknown> = {};
  for (const [key, f] of Object.entries(CONFIG_FIELDS as Record<string, ConfigField>)) {
    const parts = key.split('.');
    let node = example;
    for (const p of parts.slice(0, -1)) {
      node[p] ??= {};
      node = node[p] as Record<string, unknown>;
    }
    node[parts[parts.length - 1] as string] = f.default;
  }
  return [
    '# Configuration',
    '',
    '<!-- Generated from src/config/schema.ts by `npm run docs`. Do not edit by hand. -->',
    '',
    'Values come from, lowest precedence first: the defaults below, a YAML file (`--config FILE` or',
    '`GPUMON_CONFIG`), environment variables, then command-line flags. A bad key or value stops gpumon with',
    'exit status 2 and a message naming the key, where the value came from, and what is allowed.',
    '',
    '| key | default | allowed | environment | meaning |',
    '|---|---|---|---|---|',
    ...rows,
    '',
    '## A complete file with every default',
    '',
    '```yaml',
    stringify(example).trimEnd(),
    '```',
    '',
  ].join('\n');
}
