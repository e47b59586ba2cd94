import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { badgeOf, unreachableBadge } from '../../web/health-badge.ts';
import type { HealthResponse } from './api-types.ts';

const base: Omit<HealthResponse, 'status' | 'reasons' | 'checks'> = { version: '0.1.0', sources: [] };

describe('the health badge of the page', () => {
  test('says ok, with what was checked as its tooltip', () => {
    const badge = badgeOf({
      ...base,
      status: 'ok',
      reasons: [],
      checks: [{ name: 'source', status: 'ok', detail: 'sim: last read 0.4 s ago' }],
    });
    assert.deepEqual(badge, { state: 'ok', text: 'ok', title: 'source: sim: last read 0.4 s ago' });
  });

  test('says failing with the worst reason, how many more, and every reason as its tooltip', () => {
    const badge = badgeOf({
      ...base,
      status: 'failing',
      reasons: ['source: nvml: last successful read 45.0 s ago', 'archive: every write failing for 3.0 s'],
      checks: [],
    });
    assert.equal(badge.state, 'failing');
    assert.equal(badge.text, 'failing: source: nvml: last successful read 45.0 s ago (+1)');
    assert.equal(badge.title.split('\n').length, 2);
  });

  test('says unreachable when the server does not answer', () => {
    assert.equal(unreachableBadge('HTTP 502').state, 'unknown');
    assert.match(unreachableBadge('HTTP 502').title, /HTTP 502/);
  });
});
