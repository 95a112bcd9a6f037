/**
 * Many small GETs through the system curl: one process fetching several at a time over kept-alive
 * connections, for a fraction of the CPU the same requests cost in Node, whose thread is then free for
 * the caller's own work (an archive to write, an upload to drive). URLs and headers (credentials
 * among them) go in curl's config on its stdin, never in its arguments, which any user can read; the
 * user's `.curlrc` and proxy settings are not read, so curl does what Node would. Each transfer is
 * reported as it ends.
 */
import { runCaptured, runTool, toolEnvironment } from './process';

export interface BulkGet {
  url: string;
  /** A file of the caller's private folder; it holds the body only when the transfer succeeded. */
  output: string;
}

export interface BulkGetOptions {
  headers: Readonly<Record<string, string>>;
  /** A PEM file of the certificates to trust instead of the system's. */
  caFile?: string;
  /** Skips certificate verification (a choice the caller has reported). */
  insecure?: boolean;
  /** How long a connection may take, and a transfer may go without receiving a byte. */
  timeoutMs: number;
  /** Transfers at once. */
  parallel: number;
  /** Refuses a body larger than this. */
  maxBytes: number;
  signal: AbortSignal;
  /** A transfer ended: `ok` with the body complete in its file (2xx), else whatever went wrong. */
  onTransfer: (index: number, outcome: { ok: boolean; status: number; bytes: number }) => void;
}

/** How long `curl --version` may take. */
const VERSION_TIMEOUT_MS = 5000;
/** `--parallel` (7.66), `--no-progress-meter` (7.67) and the write-out variables `urlnum` and `exitcode` (7.75). */
const MINIMUM_VERSION = [7, 75] as const;
/** Variables that would make curl verify, or reach the server, differently from Node. */
const IGNORED_ENVIRONMENT = ['CURL_*', 'SSL_CERT_*', 'http_proxy', 'https_proxy', 'HTTPS_PROXY', 'all_proxy', 'ALL_PROXY', 'no_proxy', 'NO_PROXY'];

/** A line of the write-out: `urlnum http_code exitcode size_download`. */
const TRANSFER_REPORT = /^(\d+) (\d+) (\d+) (\d+)$/;

/** How to start curl: the program and the arguments before curl's own. */
export interface BulkCurl {
  command: string;
  prefix: readonly string[];
}

let found: Promise<BulkCurl | undefined> | undefined;

/**
 * The system curl when it is recent enough for `curlBulkGet`, looked for once per process. Started
 * through coreutils' `stdbuf -eL` where that works: curl writes an unbuffered stderr a character or
 * a field at a time, eight writes per transfer's report, and each wakes this process; line-buffered,
 * a report is one write, as soon as the transfer ends. The version is asked the way curl will be
 * started, so a `stdbuf` that cannot start curl is found here and left out.
 */
export function findBulkCurl(): Promise<BulkCurl | undefined> {
  found ??= (async () => {
    // By name: the system looks them up on the PATH when it starts them, as it will for the transfers.
    const candidates: BulkCurl[] = [{ command: 'stdbuf', prefix: ['-eL', 'curl'] }, { command: 'curl', prefix: [] }];
    for (const candidate of candidates) {
      const { exitCode, stdout } = await runCaptured(candidate.command, [...candidate.prefix, '--version'], { timeoutMs: VERSION_TIMEOUT_MS });
      if (exitCode !== 0) continue;
      const [major = 0, minor = 0] = (/^curl (\d+)\.(\d+)/.exec(stdout) ?? []).slice(1).map(Number);
      const [wantMajor, wantMinor] = MINIMUM_VERSION;
      return major > wantMajor || (major === wantMajor && minor >= wantMinor) ? candidate : undefined;
    }
    return undefined;
  })();
  return found;
}

/** A value of curl's config syntax: quoted, with its escapes; a control character (a header split in two) is refused. */
export function curlConfigValue(value: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  if (/[\u0000-\u001f\u007f]/.test(value)) throw new Error('a value for curl holds a control character');
  return `"${value.replace(/[\\"]/g, (character) => `\\${character}`)}"`;
}

/** curl's whole config for the transfers: its options, then one `url` and `output` per request. */
export function bulkGetConfig(requests: readonly BulkGet[], options: Omit<BulkGetOptions, 'signal' | 'onTransfer'>): string {
  const seconds = Math.max(1, Math.ceil(options.timeoutMs / 1000));
  const lines = [
    'parallel',
    `parallel-max = ${options.parallel}`,
    'silent',
    // `silent` alone leaves the progress meter of --parallel on stderr, where the reports go.
    'no-progress-meter',
    // No body is written for an answer of 400 or more.
    'fail',
    'proto = "=http,https"',
    // Names are sent as they are, as Node sends them: `..` in a name is not resolved away.
    'path-as-is',
    'noproxy = "*"',
    `connect-timeout = ${seconds}`,
    // Under one byte a second for that long: the transfer has stalled.
    'speed-limit = 1',
    `speed-time = ${seconds}`,
    `max-filesize = ${options.maxBytes}`,
    ...Object.entries(options.headers).map(([name, value]) => `header = ${curlConfigValue(`${name}: ${value}`)}`),
    ...(options.insecure ? ['insecure'] : options.caFile ? [`cacert = ${curlConfigValue(options.caFile)}`] : []),
    // To stderr, which curl does not buffer: on a pipe, stdout reaches us in blocks of some 300 transfers.
    'write-out = "%{stderr}%{urlnum} %{http_code} %{exitcode} %{size_download}\\n"',
    ...requests.flatMap((request) => [`url = ${curlConfigValue(request.url)}`, `output = ${curlConfigValue(request.output)}`]),
  ];
  return `${lines.join('\n')}\n`;
}

/**
 * Fetches every request with `curl` (from `findBulkCurl`), reporting each one as it ends; resolves
 * when curl has ended, whatever became of the transfers. A transfer curl never reported (it was
 * stopped, or failed as a whole) is reported as not ok, so every index is reported once.
 */
export async function curlBulkGet(curl: BulkCurl, requests: readonly BulkGet[], options: BulkGetOptions): Promise<void> {
  const reported = new Set<number>();
  const report = (index: number, outcome: { ok: boolean; status: number; bytes: number }) => {
    if (index < 0 || index >= requests.length || reported.has(index)) return;
    reported.add(index);
    options.onTransfer(index, outcome);
  };
  try {
    await runTool({
      command: curl.command,
      // `-q` first: the user's .curlrc is not read.
      args: [...curl.prefix, '-q', '--config', '-'],
      input: bulkGetConfig(requests, options),
      env: toolEnvironment(IGNORED_ENVIRONMENT, {}),
      signal: options.signal,
      interruptSignal: 'SIGTERM',
      onStderrLine: (line) => {
        const reported = TRANSFER_REPORT.exec(line);
        if (!reported) return;
        const [index, status, exitCode, bytes] = reported.slice(1).map(Number) as [number, number, number, number];
        report(index, { ok: exitCode === 0 && status >= 200 && status < 300, status, bytes });
      },
    });
  } finally {
    for (let index = 0; index < requests.length; index++) report(index, { ok: false, status: 0, bytes: 0 });
  }
}
