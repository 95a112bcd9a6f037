/**
 * A real S3 server for tests and benchmarks: s3rver in a child process on 127.0.0.1 and a free port,
 * over http or https (a self-signed certificate made per run with `openssl`), storing into a fresh
 * folder that is removed on stop.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { selfSignedCertificate } from './certificate';

/** s3rver's fixed credentials; it rejects any other key pair. */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

export interface S3rverOptions {
  /** Buckets created at start-up. */
  buckets?: string[];
  tls?: boolean;
}

export interface RunningS3rver {
  /** `http://127.0.0.1:PORT` or `https://127.0.0.1:PORT`. */
  endpoint: string;
  port: number;
  /** The self-signed certificate (PEM) clients must trust; only with `tls`. */
  caFile?: string;
  /** The per-run folder: s3rver's data under `data/`, the certificate and key beside it. */
  dir: string;
  stop(): Promise<void>;
}

const STARTUP_TIMEOUT_MS = 20_000;

export async function startS3rver(options: S3rverOptions = {}): Promise<RunningS3rver> {
  const dir = await mkdtemp(path.join(tmpdir(), 'lifeboat-s3rver-'));
  const args = [
    // s3rver makes ListObjectsV2 continuation tokens with DES, which OpenSSL 3 only has in its legacy
    // provider; without it every truncated listing answers 500.
    '--openssl-legacy-provider',
    require.resolve('s3rver/bin/s3rver.js'),
    '--directory', path.join(dir, 'data'),
    '--address', '127.0.0.1',
    '--port', '0',
    '--silent',
  ];
  for (const bucket of options.buckets ?? []) args.push('--configure-bucket', bucket);
  let caFile: string | undefined;
  if (options.tls) {
    const certificate = await selfSignedCertificate(dir);
    caFile = certificate.certFile;
    args.push('--key', certificate.keyFile, '--cert', certificate.certFile);
  }

  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-4000)));
  try {
    const port = await listeningPort(child, () => stderr);
    const stop = async () => {
      await stopChild(child);
      await rm(dir, { recursive: true, force: true });
    };
    return { endpoint: `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`, port, caFile, dir, stop };
  } catch (error) {
    await stopChild(child);
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

/** Reads the port from s3rver's "S3rver listening on 127.0.0.1:PORT" line. */
function listeningPort(child: ChildProcess, stderr: () => string): Promise<number> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`s3rver did not start within ${STARTUP_TIMEOUT_MS} ms: ${stderr()}`)), STARTUP_TIMEOUT_MS);
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      const match = /listening on [\d.]+:(\d+)/.exec(line);
      if (!match) return;
      clearTimeout(timer);
      lines.close();
      child.stdout?.resume();
      resolve(Number(match[1]));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`s3rver exited with code ${code} before listening: ${stderr()}`));
    });
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}
