import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';

export interface CertFiles {
  certFile: string;
  keyFile: string;
}

/**
 * A self-signed certificate for localhost and 127.0.0.1 with its key, made by openssl in `dir`, valid for a
 * day. Fails (never skips) when openssl is missing.
 */
export function selfSignedCert(dir: string): CertFiles {
  const found = spawnSync('openssl', ['version'], { encoding: 'utf8' });
  assert.equal(
    found.status,
    0,
    `openssl is missing: apt-get install openssl (${found.error?.message ?? ''})`,
  );
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
    ],
    { stdio: 'pipe' },
  );
  return { certFile, keyFile };
}
