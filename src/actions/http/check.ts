import * as z from 'zod';
import { DEFAULT_RETRY_POLICY, withRetries } from '../../clients/retry';
import { defineAction, type ActionContext } from '../../core/actions/spec';
import { isCancellationError } from '../../core/errors';
import { endpointEntry, type EndpointEntry } from '../../core/inventory/schema';
import { formatCount, markdownTable, printable } from '../../core/render';
import { EndpointError, requestStatus } from './request';

/** How the certificate of an endpoint is trusted. */
export type TlsTrust = 'none' | 'verified' | 'pinned' | 'insecure';

export const httpCheckParams = z
  .object({
    endpoints: z
      .array(z.union([z.string().min(1).describe('The name of an endpoint under `endpoints:`.'), endpointEntry.extend({ name: z.string().min(1).optional() })]))
      .min(1)
      .optional()
      .describe('Endpoints to check: names of `endpoints:` in lifeboat.yaml, or endpoints written out (url, expect, timeoutSeconds, fingerprint); every endpoint of lifeboat.yaml when left out.'),
    attempts: z.int().min(1).max(10).default(DEFAULT_RETRY_POLICY.attempts).describe('Attempts per endpoint, the first included, with backoff between them; a refused certificate is never tried again.'),
  })
  .strict();

export type HttpCheckParams = z.output<typeof httpCheckParams>;

export interface EndpointVerdict {
  name: string;
  url: string;
  expected: number[];
  /** The status of the last attempt; absent when none answered. */
  status?: number;
  healthy: boolean;
  attempts: number;
  tls: TlsTrust;
  problem?: string;
}

export interface HttpCheckResult {
  endpoints: EndpointVerdict[];
  healthy: number;
}

type NamedEndpoint = EndpointEntry & { name: string };

function endpointsOf(params: HttpCheckParams, ctx: ActionContext): NamedEndpoint[] {
  const declared = ctx.inventory.endpoints ?? {};
  if (!params.endpoints) {
    const all = Object.entries(declared).map(([name, entry]) => ({ ...entry, name }));
    if (all.length === 0) throw new Error('`endpoints`: none given, and lifeboat.yaml has no `endpoints:` to check');
    return all;
  }
  return params.endpoints.map((endpoint, index) => {
    if (typeof endpoint !== 'string') return { ...endpoint, name: endpoint.name ?? endpoint.url };
    const entry = declared[endpoint];
    if (!entry) throw new Error(`\`endpoints.${index}\`: no endpoint '${printable(endpoint)}' under \`endpoints:\` in lifeboat.yaml`);
    return { ...entry, name: endpoint };
  });
}

/** An unexpected answer worth asking again: the server or a proxy in front of it is struggling. */
class TransientStatus extends Error {
  constructor(readonly status: number) {
    super(`answered ${status}`);
  }
}

async function checkEndpoint(endpoint: NamedEndpoint, attempts: number, ctx: ActionContext): Promise<EndpointVerdict> {
  const expected = Array.isArray(endpoint.expect) ? endpoint.expect : [endpoint.expect];
  const insecure = endpoint.tls?.insecure ?? false;
  const secure = endpoint.url.startsWith('https:');
  const tls: TlsTrust = !secure ? 'none' : endpoint.fingerprint ? 'pinned' : insecure ? 'insecure' : 'verified';
  const verdict = { name: endpoint.name, url: endpoint.url, expected, tls };
  let attempted = 0;
  try {
    if (endpoint.fingerprint && !secure) throw new Error(`a certificate fingerprint is given for ${endpoint.url}, which is not https`);
    const answer = await withRetries(
      async (attempt) => {
        attempted = attempt;
        const status = await requestStatus({ url: endpoint.url, timeoutMs: endpoint.timeoutSeconds * 1000, fingerprint: endpoint.fingerprint, insecure }, ctx.signal);
        if (!expected.includes(status) && status >= 500) throw new TransientStatus(status);
        return status;
      },
      {
        policy: { ...DEFAULT_RETRY_POLICY, attempts },
        signal: ctx.signal,
        isRetryable: (error) => error instanceof TransientStatus || (error instanceof EndpointError && error.kind !== 'tls'),
        onRetry: (error, attempt) => ctx.log.info(`${endpoint.name}: attempt ${attempt} failed (${error instanceof Error ? error.message : String(error)}); trying again`),
      },
    );
    const healthy = expected.includes(answer);
    return { ...verdict, status: answer, healthy, attempts: attempted, ...(healthy ? {} : { problem: `answered ${answer}, expected ${expected.join(' or ')}` }) };
  } catch (error) {
    if (isCancellationError(error)) throw error;
    const status = error instanceof TransientStatus ? { status: error.status } : {};
    const problem = error instanceof TransientStatus ? `answered ${error.status}, expected ${expected.join(' or ')}` : error instanceof Error ? error.message : String(error);
    return { ...verdict, ...status, healthy: false, attempts: attempted, problem: `${problem}${attempted > 1 ? ` (after ${attempted} attempts)` : ''}` };
  }
}

export class EndpointsUnhealthyError extends Error {
  constructor(readonly result: HttpCheckResult) {
    const failing = result.endpoints.filter((endpoint) => !endpoint.healthy);
    super([`${formatCount(failing.length, 'endpoint')} of ${result.endpoints.length} unhealthy:`, ...failing.map((endpoint) => `- ${printable(endpoint.name)}: ${printable(endpoint.problem ?? '')}`)].join('\n'));
    this.name = 'EndpointsUnhealthyError';
  }
}

export const httpCheck = defineAction({
  id: 'http.check',
  title: 'Check HTTP endpoints',
  description:
    'Requests each endpoint and checks it answers its expected status (an S3 API asked without credentials answers 403), within its timeout, retrying a few times with backoff. TLS is verified; a self-signed certificate is trusted by its pinned SHA-256 fingerprint. Fails naming every unhealthy endpoint.',
  params: httpCheckParams,
  destructive: false,
  readOnly: true,
  async plan(params, ctx) {
    const endpoints = endpointsOf(params, ctx);
    return { summary: `Check ${formatCount(endpoints.length, 'endpoint')}`, operations: endpoints.map((endpoint) => ({ kind: 'verify' as const, target: endpoint.url, detail: `expect ${[endpoint.expect].flat().join(' or ')}` })), destructive: false };
  },
  async run(params, ctx): Promise<HttpCheckResult> {
    const endpoints = endpointsOf(params, ctx);
    let done = 0;
    const verdicts = await Promise.all(
      endpoints.map(async (endpoint) => {
        const verdict = await checkEndpoint(endpoint, params.attempts, ctx);
        ctx.progress.report({ items: ++done, totalItems: endpoints.length, message: `${endpoint.name}: ${verdict.healthy ? 'healthy' : 'unhealthy'}` });
        return verdict;
      }),
    );
    const result = { endpoints: verdicts, healthy: verdicts.filter((verdict) => verdict.healthy).length };
    if (result.healthy < verdicts.length) throw new EndpointsUnhealthyError(result);
    return result;
  },
  render(result: HttpCheckResult) {
    const rows = result.endpoints.map((endpoint) => [printable(endpoint.name), printable(endpoint.url), endpoint.status ?? '', endpoint.expected.join(' or '), endpoint.tls === 'insecure' ? 'NOT verified (insecure)' : endpoint.tls, endpoint.attempts]);
    return `${formatCount(result.healthy, 'endpoint')} healthy.\n\n${markdownTable(['endpoint', 'url', 'status', 'expected', 'certificate', 'attempts'], rows)}`;
  },
});
