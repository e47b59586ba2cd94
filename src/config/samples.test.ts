import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { projectPath } from '../paths.ts';
import { loadConfig } from './load.ts';

function sampleFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'testdata' ? [] : sampleFiles(path);
    return e.name === 'sample.yaml' ? [path] : [];
  });
}

describe('sample configurations', () => {
  const files = sampleFiles(projectPath('src'));

  it('exist for every source and sink folder that has a README', () => {
    assert.ok(files.length >= 8, `found ${files.length}`);
  });

  for (const file of files) {
    it(`${relative(projectPath(), file)} is a valid configuration`, () => {
      assert.doesNotThrow(() => loadConfig({ file }));
    });
  }
});
