/**
 * An IAM policy in front of s3rver, which has one fixed key pair and no policies: requests for the
 * S3 actions the policy does not allow are answered 403 AccessDenied (the error S3 gives when a
 * policy denies a request), everything else goes on to s3rver. It also keeps the requests it saw,
 * with their query, so a test can tell what was asked of the store.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { forwardRequest } from './faultProxy';

/** The IAM actions told apart, by the request that needs them. */
export type S3Action = 's3:ListBucket' | 's3:PutObject' | 's3:GetObject' | 's3:DeleteObject';

export interface S3PolicyProxy {
  endpoint: string;
  /** The actions refused from now on; empty allows everything. */
  deny(actions: readonly S3Action[]): void;
  /** Requests seen, as `METHOD /path?query`. */
  readonly requests: string[];
  stop(): Promise<void>;
}

/** The IAM action a request needs, as AWS documents it for each operation (HeadBucket and ListObjectsV2 both need s3:ListBucket). */
function actionOf(method: string, url: URL): S3Action | undefined {
  const [, , ...key] = url.pathname.split('/');
  const onObject = key.join('/') !== '';
  if (!onObject) return (method === 'GET' || method === 'HEAD') && [...url.searchParams.keys()].every((name) => ['list-type', 'prefix', 'delimiter', 'continuation-token', 'max-keys', 'encoding-type', 'x-id'].includes(name)) ? 's3:ListBucket' : undefined;
  if (method === 'PUT' || method === 'POST') return 's3:PutObject';
  if (method === 'GET' || method === 'HEAD') return 's3:GetObject';
  if (method === 'DELETE') return 's3:DeleteObject';
  return undefined;
}

export async function startS3PolicyProxy(target: string): Promise<S3PolicyProxy> {
  const upstream = new URL(target);
  const requests: string[] = [];
  let denied = new Set<S3Action>();
  const server = http.createServer((request, response) => {
    requests.push(`${request.method} ${request.url}`);
    const action = actionOf(request.method ?? 'GET', new URL(request.url ?? '/', 'http://proxy'));
    if (action && denied.has(action)) {
      request.resume();
      request.once('end', () => {
        response.writeHead(403, { 'content-type': 'application/xml' });
        response.end(request.method === 'HEAD' ? undefined : '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>Access Denied</Message><RequestId>policy-proxy</RequestId></Error>');
      });
      return;
    }
    forwardRequest(upstream, request, response);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    deny(actions) {
      denied = new Set(actions);
    },
    async stop() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
