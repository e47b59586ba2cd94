import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

describe('code style', () => {
  it('passes biome check (format and lint) with no errors', () => {
    const result = spawnSync(
      process.execPath,
      [`${root}node_modules/@biomejs/biome/bin/biome`, 'check', '.'],
      {
        cwd: root,
        encoding: 'utf8',
      },
    );
    assert.equal(
      result.status,
      0,
      `biome check found problems (fix with \`npx biome check --write .\`):\n${result.stdout}${result.stderr}`,
    );
  });
});
