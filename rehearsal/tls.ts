/**
 * A certificate for the local rehearsal's PostgreSQL, made once and kept in `.lockstep/tls/`: the migrate
 * function connects only with verified TLS, locally too, so the rehearsal trusts this certificate the way the
 * Lambda trusts the RDS CA bundle.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface LocalCertificate {
  readonly certPem: string;
  readonly keyPem: string;
  /** The certificate as a CA bundle file, for DB_CA_FILE. */
  readonly caFile: string;
}

export async function localCertificate(dir: string): Promise<LocalCertificate> {
  const certFile = join(dir, 'server.crt');
  const keyFile = join(dir, 'server.key');
  if (!existsSync(certFile) || !existsSync(keyFile)) {
    const { generate } = await import('selfsigned');
    const made = await generate([{ name: 'commonName', value: 'localhost' }], {
      keySize: 2048,
      notAfterDate: new Date(Date.now() + 10 * 365 * 24 * 3600 * 1000),
      extensions: [
        { name: 'basicConstraints', cA: true },
        {
          name: 'subjectAltName',
          altNames: [
            { type: 2, value: 'localhost' },
            { type: 7, ip: '127.0.0.1' },
          ],
        },
      ],
    });
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    writeFileSync(certFile, made.cert, { mode: 0o644 });
    writeFileSync(keyFile, made.private, { mode: 0o600 });
  }
  return { certPem: readFileSync(certFile, 'utf8'), keyPem: readFileSync(keyFile, 'utf8'), caFile: certFile };
}
