import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

export interface TestCertificate {
  certFile: string;
  keyFile: string;
  /** PEM text of the certificate, for clients that take a CA inline (kubeconfig, fetch). */
  cert: string;
  key: string;
}

/** A self-signed certificate for 127.0.0.1 (an IP SAN, which TLS clients check), made per run. */
export async function selfSignedCertificate(dir: string, name = 'server'): Promise<TestCertificate> {
  const certFile = join(dir, `${name}-cert.pem`);
  const keyFile = join(dir, `${name}-key.pem`);
  await promisify(execFile)('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', keyFile, '-out', certFile, '-days', '2',
    '-subj', `/CN=lifeboat test bed ${name}`, '-addext', 'subjectAltName=IP:127.0.0.1',
  ]);
  return { certFile, keyFile, cert: await readFile(certFile, 'utf8'), key: await readFile(keyFile, 'utf8') };
}
