/**
 * The linters over everything deployable, offline: every rendered kustomization passes kubernetes-validate
 * --strict for each Kubernetes version docs/deployment.md claims, checkov finds nothing it does not see
 * justified on the object itself (and every such skip is needed), hadolint passes every Dockerfile of the
 * repository and shellcheck every shell script. The tools come from scripts/setup/deploy-lint.sh; without
 * them these tests fail.
 */
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { kustomizations, lintTool, readText, run, writeRenderings } from './k8s-support.ts';
import { ROOT } from './support.ts';

/** The Kubernetes versions docs/deployment.md claims: "Kubernetes 1.A to 1.B". */
function claimedVersions(): string[] {
  const m = /Kubernetes 1\.(\d+) to 1\.(\d+)/.exec(readText('docs', 'deployment.md'));
  assert.ok(m, 'docs/deployment.md names no "Kubernetes 1.A to 1.B"');
  const versions: string[] = [];
  for (let v = Number(m[1]); v <= Number(m[2]); v++) versions.push(`1.${v}.0`);
  return versions;
}

/** The repository's files (tracked or not, .gitignore honoured) whose name matches. */
function repoFiles(match: (name: string) => boolean): string[] {
  const r = run('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z']);
  assert.equal(r.status, 0, r.stderr);
  return r.stdout
    .split('\0')
    .filter((f) => f && match(f.split('/').pop() ?? ''))
    .filter((f) => {
      try {
        return statSync(join(ROOT, f)).isFile();
      } catch {
        return false; // deleted in the work tree
      }
    })
    .sort();
}

interface CheckovResult {
  check_id: string;
  resource: string;
  file_path: string;
  check_result: { suppress_comment?: string };
}
function checkov(files: string[]): { failed: CheckovResult[]; skipped: CheckovResult[] } {
  const dir = dirname(files[0] as string);
  const r = run(
    lintTool('CHECKOV'),
    ['--framework', 'kubernetes', '-d', dir, '--skip-download', '-o', 'json'],
    {
      cwd: dir,
      env: { ...process.env, BC_SKIP_MAPPING: 'TRUE', CHECKOV_NO_OUTPUT_PROGRESS: '1' },
    },
  );
  const parsed = JSON.parse(r.stdout) as
    | { results: { failed_checks: CheckovResult[]; skipped_checks: CheckovResult[] } }
    | { results: { failed_checks: CheckovResult[]; skipped_checks: CheckovResult[] } }[];
  const results = Array.isArray(parsed) ? parsed.map((p) => p.results) : [parsed.results];
  return {
    failed: results.flatMap((x) => x.failed_checks),
    skipped: results.flatMap((x) => x.skipped_checks),
  };
}

describe('the rendered manifests', () => {
  const names = kustomizations().map((k) => k.name);

  it('claim Kubernetes versions that kubernetes-validate has schemas for', () => {
    const versions = claimedVersions();
    assert.ok(versions.length >= 3, `${versions}`);
    assert.ok(versions.includes('1.34.0'), 'the version the cluster tests run');
  });

  for (const version of claimedVersions()) {
    it(`pass kubernetes-validate --strict for Kubernetes ${version}`, () => {
      const files = writeRenderings(names);
      const r = run(lintTool('KUBERNETES_VALIDATE'), ['--strict', '--quiet', '-k', version, ...files]);
      assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    });
  }

  it('pass checkov: no failure, every skip justified on its object, and every skip needed', () => {
    const withSkips = checkov(writeRenderings(names));
    assert.deepEqual(
      withSkips.failed.map((f) => `${relative(ROOT, f.file_path)} ${f.resource}: ${f.check_id}`),
      [],
      'checkov failures',
    );
    for (const s of withSkips.skipped) {
      const comment = s.check_result.suppress_comment ?? '';
      assert.ok(
        comment.length > 20 && comment !== 'No comment provided',
        `${s.resource} ${s.check_id}: "${comment}"`,
      );
    }
    // the same without the annotations: exactly the skipped checks fail
    const bare = checkov(writeRenderings(names, (t) => t.replace(/^ +checkov\.io\/skip\d+: .*\n/gm, '')));
    const key = (c: CheckovResult) => `${c.file_path.split('/').pop()} ${c.resource} ${c.check_id}`;
    assert.deepEqual(
      bare.failed.map(key).sort(),
      withSkips.skipped.map(key).sort(),
      'skips that nothing needs',
    );
  });
});

describe('the images and scripts of the repository', () => {
  it('pass hadolint: every Dockerfile', () => {
    const dockerfiles = repoFiles(
      (n) => n === 'Dockerfile' || n.endsWith('.Dockerfile') || n.startsWith('Dockerfile.'),
    );
    assert.ok(dockerfiles.includes('Dockerfile'), `${dockerfiles}`);
    const r = run(lintTool('HADOLINT'), dockerfiles);
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  });

  it('pass shellcheck: every .sh (sourced files followed)', () => {
    const scripts = repoFiles((n) => n.endsWith('.sh'));
    assert.ok(scripts.includes('deploy/kubernetes/deploy.sh'), `${scripts.length} scripts`);
    const r = run(lintTool('SHELLCHECK'), ['-x', ...scripts]);
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  });
});
