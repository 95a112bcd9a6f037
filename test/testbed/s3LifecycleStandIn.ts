/**
 * A stand-in for S3's bucket lifecycle configuration, in front of s3rver. s3rver (the only S3 server
 * that runs here) answers `?lifecycle` with NotImplemented, and no other S3 server can be installed
 * from npm or Debian's packages on these machines (Debian's radosgw needs a running Ceph cluster).
 *
 * Every request goes to s3rver first, so its real signature check and bucket lookup decide: its
 * answer is passed on as it is, except the NotImplemented it gives an authenticated `?lifecycle`
 * request on an existing bucket, which the stand-in answers the way the AWS S3 API documents
 * PutBucketLifecycleConfiguration, GetBucketLifecycleConfiguration and DeleteBucketLifecycle: the
 * XML shapes, the integrity header the PUT must carry, and the errors for a malformed configuration.
 * Configurations are kept in memory, by bucket, as the XML of their rules.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { buffer } from 'node:stream/consumers';
import { crc32 } from 'node:zlib';

const S3_NAMESPACE = 'http://s3.amazonaws.com/doc/2006-03-01/';
const MAX_RULES = 1000;
const MAX_ID_LENGTH = 255;
const ACTIONS = ['Expiration', 'Transition', 'NoncurrentVersionExpiration', 'NoncurrentVersionTransition', 'AbortIncompleteMultipartUpload'];

export interface LifecycleStandIn {
  /** `http://127.0.0.1:PORT`: s3rver's object API, with lifecycle configuration. */
  endpoint: string;
  /** The rules of a bucket as the stand-in holds them (parsed back from the XML it keeps). */
  rules(bucket: string): XmlElement[];
  /** Requests seen, as `METHOD /path?query`. */
  readonly requests: string[];
  stop(): Promise<void>;
}

export interface XmlElement {
  name: string;
  children: XmlElement[];
  text: string;
}

class S3ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decodeText(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#\d+|amp|lt|gt|quot|apos);/g, (_, entity: string) =>
    entity.startsWith('#x') ? String.fromCodePoint(parseInt(entity.slice(2), 16)) : entity.startsWith('#') ? String.fromCodePoint(Number(entity.slice(1))) : (ENTITIES[entity] as string),
  );
}

function encodeText(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * The XML of S3 request bodies: elements, text and a root namespace attribute; anything else
 * (another attribute, a DOCTYPE, text beside elements) is MalformedXML, as S3 answers.
 */
export function parseXml(source: string): XmlElement {
  let at = 0;
  const malformed = () => new S3ApiError(400, 'MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema');
  const skipSpace = () => {
    while (at < source.length && /\s/.test(source[at] as string)) at++;
  };
  const element = (): XmlElement => {
    const open = /^<([A-Za-z][\w.-]*)(\s+xmlns="[^"]*")?\s*(\/?)>/.exec(source.slice(at));
    if (!open) throw malformed();
    at += open[0].length;
    const name = open[1] as string;
    const node: XmlElement = { name, children: [], text: '' };
    if (open[3] === '/') return node;
    let text = '';
    for (;;) {
      const close = `</${name}>`;
      if (source.startsWith(close, at)) {
        at += close.length;
        if (node.children.length > 0 && text.trim() !== '') throw malformed();
        node.text = node.children.length > 0 ? '' : decodeText(text);
        return node;
      }
      if (source[at] === '<') {
        if (source.startsWith('</', at)) throw malformed();
        node.children.push(element());
        continue;
      }
      const next = source.indexOf('<', at);
      if (next === -1) throw malformed();
      text += source.slice(at, next);
      at = next;
    }
  };
  skipSpace();
  if (source.startsWith('<?xml', at)) {
    const end = source.indexOf('?>', at);
    if (end === -1) throw malformed();
    at = end + 2;
  }
  skipSpace();
  const root = element();
  skipSpace();
  if (at !== source.length) throw malformed();
  return root;
}

function serialize(element: XmlElement): string {
  return element.children.length > 0 ? `<${element.name}>${element.children.map(serialize).join('')}</${element.name}>` : `<${element.name}>${encodeText(element.text)}</${element.name}>`;
}

const child = (element: XmlElement, name: string) => element.children.find((candidate) => candidate.name === name);

/** The checks S3 makes on a lifecycle configuration before it takes it. */
function validateConfiguration(root: XmlElement): XmlElement[] {
  if (root.name !== 'LifecycleConfiguration') throw new S3ApiError(400, 'MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema');
  const rules = root.children.filter((element) => element.name === 'Rule');
  if (rules.length === 0 || rules.length !== root.children.length) throw new S3ApiError(400, 'MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema');
  if (rules.length > MAX_RULES) throw new S3ApiError(400, 'InvalidRequest', `The number of lifecycle rules must not exceed the allowed limit of ${MAX_RULES} rules`);
  const ids = new Set<string>();
  let ruleLevelPrefix = false;
  let filter = false;
  for (const rule of rules) {
    const status = child(rule, 'Status')?.text;
    if (status !== 'Enabled' && status !== 'Disabled') throw new S3ApiError(400, 'MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema');
    const id = child(rule, 'ID');
    if (id) {
      if (id.text.length > MAX_ID_LENGTH) throw new S3ApiError(400, 'InvalidArgument', 'ID length should not exceed allowed limit of 255');
      if (ids.has(id.text)) throw new S3ApiError(400, 'InvalidArgument', 'Rule ID must be unique. Found same ID for more than one rule');
      ids.add(id.text);
    } else {
      // S3 names a rule written without an ID itself.
      rule.children.unshift({ name: 'ID', children: [], text: createHash('sha256').update(serialize(rule)).digest('base64').slice(0, 48) });
    }
    const hasPrefix = child(rule, 'Prefix') !== undefined;
    const hasFilter = child(rule, 'Filter') !== undefined;
    if (hasPrefix === hasFilter) throw new S3ApiError(400, 'MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema');
    ruleLevelPrefix ||= hasPrefix;
    filter ||= hasFilter;
    if (!rule.children.some((element) => ACTIONS.includes(element.name))) throw new S3ApiError(400, 'InvalidRequest', 'At least one action needs to be specified in a rule');
    const days = child(rule, 'Expiration') && child(child(rule, 'Expiration') as XmlElement, 'Days');
    if (days && !(/^\d+$/.test(days.text) && Number(days.text) > 0)) throw new S3ApiError(400, 'InvalidArgument', "'Days' for Expiration action must be a positive integer");
  }
  // Refused as a schema error: a configuration is written in the older rule-level Prefix form or with Filters, not both.
  if (ruleLevelPrefix && filter) throw new S3ApiError(400, 'MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema');
  return rules;
}

/** PUT must prove its body arrived whole: Content-MD5 or an x-amz-checksum-* header, which must match. */
function checkIntegrity(request: http.IncomingMessage, body: Buffer): void {
  const md5 = request.headers['content-md5'];
  const crc = request.headers['x-amz-checksum-crc32'];
  const sha256 = request.headers['x-amz-checksum-sha256'];
  if (md5 === undefined && crc === undefined && sha256 === undefined) throw new S3ApiError(400, 'InvalidRequest', 'Missing required header for this request: Content-MD5');
  if (typeof md5 === 'string' && md5 !== createHash('md5').update(body).digest('base64')) throw new S3ApiError(400, 'BadDigest', 'The Content-MD5 you specified did not match what we received.');
  if (typeof crc === 'string') {
    const expected = Buffer.alloc(4);
    expected.writeUInt32BE(crc32(body));
    if (crc !== expected.toString('base64')) throw new S3ApiError(400, 'BadDigest', 'The CRC32 you specified did not match the calculated checksum.');
  }
  if (typeof sha256 === 'string' && sha256 !== createHash('sha256').update(body).digest('base64')) throw new S3ApiError(400, 'BadDigest', 'The SHA256 you specified did not match the calculated checksum.');
}

function sendError(response: http.ServerResponse, error: S3ApiError, resource: string): void {
  response.writeHead(error.status, { 'content-type': 'application/xml' });
  response.end(`<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${error.code}</Code><Message>${encodeText(error.message)}</Message><Resource>${encodeText(resource)}</Resource><RequestId>lifecycle-stand-in</RequestId></Error>`);
}

export async function startLifecycleStandIn(s3rverEndpoint: string): Promise<LifecycleStandIn> {
  const upstream = new URL(s3rverEndpoint);
  const configurations = new Map<string, string>();
  const requests: string[] = [];

  const forward = (request: http.IncomingMessage, body: Buffer) =>
    new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
      const outgoing = http.request({ host: upstream.hostname, port: upstream.port, method: request.method, path: request.url, headers: request.headers }, (answer) => {
        buffer(answer).then((data) => resolve({ status: answer.statusCode ?? 502, headers: answer.headers, body: data }), reject);
      });
      outgoing.on('error', reject);
      outgoing.end(body);
    });

  const lifecycle = (request: http.IncomingMessage, response: http.ServerResponse, bucket: string, body: Buffer) => {
    if (request.method === 'PUT') {
      checkIntegrity(request, body);
      const rules = validateConfiguration(parseXml(body.toString('utf8')));
      configurations.set(bucket, rules.map(serialize).join(''));
      response.writeHead(200, { 'content-length': '0' });
      response.end();
    } else if (request.method === 'GET') {
      const rules = configurations.get(bucket);
      if (rules === undefined) throw new S3ApiError(404, 'NoSuchLifecycleConfiguration', 'The lifecycle configuration does not exist');
      response.writeHead(200, { 'content-type': 'application/xml' });
      response.end(`<?xml version="1.0" encoding="UTF-8"?>\n<LifecycleConfiguration xmlns="${S3_NAMESPACE}">${rules}</LifecycleConfiguration>`);
    } else if (request.method === 'DELETE') {
      configurations.delete(bucket);
      response.writeHead(204);
      response.end();
    } else {
      throw new S3ApiError(405, 'MethodNotAllowed', 'The specified method is not allowed against this resource.');
    }
  };

  const server = http.createServer((request, response) => {
    requests.push(`${request.method} ${request.url}`);
    void (async () => {
      const body = await buffer(request);
      const url = new URL(request.url ?? '/', 'http://stand-in');
      const answer = await forward(request, body);
      const bucket = decodeURIComponent(url.pathname.replace(/^\/|\/$/g, ''));
      const lifecycleRequest = url.searchParams.has('lifecycle') && bucket !== '' && !bucket.includes('/');
      // s3rver checked the signature and found the bucket: only then is lifecycle the stand-in's.
      if (lifecycleRequest && answer.status === 501 && answer.body.toString('utf8').includes('<Code>NotImplemented</Code>')) {
        try {
          lifecycle(request, response, bucket, body);
        } catch (error) {
          if (!(error instanceof S3ApiError)) throw error;
          sendError(response, error, url.pathname);
        }
        return;
      }
      response.writeHead(answer.status, answer.headers);
      response.end(answer.body);
    })().catch(() => response.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    rules(bucket) {
      const rules = configurations.get(bucket);
      return rules === undefined ? [] : parseXml(`<LifecycleConfiguration>${rules}</LifecycleConfiguration>`).children;
    },
    async stop() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
