/**
 * S3 and S3-compatible stores (AWS, Garage, SeaweedFS, MinIO, s3rver). The AWS SDK is imported on
 * first use only: opening a store is the first thing that loads it.
 */
import type * as S3Sdk from '@aws-sdk/client-s3';
import type { Upload as MultipartUpload } from '@aws-sdk/lib-storage';
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { readFile, rename, stat } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Logger, ProgressReporter } from '../core/actions/spec';
import { FileExistsError, pathExists, publishWithoutOverwrite, removeIfPresent, temporarySibling } from '../core/atomicFiles';
import { cancellationOr, throwIfAborted } from '../core/errors';
import { ThrottledProgress } from '../core/progress';
import { DEFAULT_RETRY_POLICY, type RetryPolicy, withRetries } from './retry';
import { describeS3Failure, isRetryableS3Failure, S3StoreError } from './s3Errors';
import type { CallerSignalHttpHandler } from './s3Sdk';

export { S3StoreError, type S3FailureKind } from './s3Errors';

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** One bucket of one store, as the inventory describes it. */
export interface S3StoreConfig {
  /** URL of an S3-compatible server; absent for AWS S3 itself. */
  endpoint?: string;
  region: string;
  bucket: string;
  /** `https://endpoint/bucket/key` rather than `https://bucket.endpoint/key`; the default for custom endpoints. */
  pathStyle?: boolean;
  /** Resolved secrets; without them the AWS credential chain (environment, profiles) is used. */
  credentials?: S3Credentials;
  /** PEM file with the CA that signed the endpoint's certificate (self-signed or private CA). */
  caFile?: string;
  /** Skips TLS verification. Only ever an explicit choice; opening such a store logs a warning. */
  insecure?: boolean;
}

export interface S3TransferSettings {
  /** Files up to this size go up in one PutObject; larger ones and streams as multipart uploads. */
  multipartThresholdBytes: number;
  partSizeBytes: number;
  /** Parts uploaded at once; memory use is about `partSizeBytes × partConcurrency`. */
  partConcurrency: number;
  retry: RetryPolicy;
  connectTimeoutMs: number;
  /** A socket that moves no data for this long fails the request (and may be retried). */
  idleTimeoutMs: number;
}

export const DEFAULT_S3_TRANSFER_SETTINGS: S3TransferSettings = {
  multipartThresholdBytes: 256 * 1024 * 1024,
  partSizeBytes: 16 * 1024 * 1024,
  partConcurrency: 4,
  retry: DEFAULT_RETRY_POLICY,
  connectTimeoutMs: 10_000,
  idleTimeoutMs: 120_000,
};

export interface S3OpenOptions {
  settings?: Partial<S3TransferSettings>;
  log?: Logger;
}

export interface S3ObjectInfo {
  key: string;
  size: number;
  lastModified?: Date;
  etag?: string;
  storageClass?: string;
}

export interface S3ListPage {
  objects: S3ObjectInfo[];
  /** With a delimiter: the "folders" directly below the prefix. */
  prefixes: string[];
  /** Passed back to get the next page; absent on the last one. */
  nextToken?: string;
}

/** A bucket's lifecycle rules, as S3 has them (rules this code does not know stay as they are). */
export interface S3Lifecycle {
  rules: S3Sdk.LifecycleRule[];
  /** The bucket-wide setting that comes with the rules; written back unchanged. */
  transitionDefaultMinimumObjectSize?: S3Sdk.TransitionDefaultMinimumObjectSize;
}

export interface S3TransferOptions {
  signal?: AbortSignal;
  progress?: ProgressReporter;
  /**
   * Also compute the SHA-256 of the bytes moved (for comparing with a checksum file). Off by default:
   * at loopback speeds hashing costs about as much as the transfer itself.
   */
  sha256?: boolean;
}

export interface S3PutOptions extends S3TransferOptions {
  /** Writes only when no object has the key (`If-None-Match: *`); otherwise fails with kind `exists`. Stores without conditional writes write anyway. */
  ifAbsent?: boolean;
  contentType?: string;
  storageClass?: string;
  metadata?: Record<string, string>;
  /** Base64 MD5 of the body, sent as Content-MD5: the store refuses the object unless the bytes it got match. */
  contentMd5?: string;
}

export interface S3PutResult {
  key: string;
  bytes: number;
  /** SHA-256 (hex) of the bytes sent, when asked for. */
  sha256?: string;
  etag?: string;
  multipart: boolean;
}

export interface S3DownloadResult {
  key: string;
  path: string;
  bytes: number;
  /** SHA-256 (hex) of the bytes written, when asked for. */
  sha256?: string;
}

/** Opens a store: loads the SDK, reads the CA file, and warns when TLS verification is off. */
export async function openS3Store(config: S3StoreConfig, options: S3OpenOptions = {}): Promise<S3Store> {
  const settings = { ...DEFAULT_S3_TRANSFER_SETTINGS, ...options.settings };
  let ca: Buffer | undefined;
  if (config.caFile) {
    try {
      ca = await readFile(config.caFile);
    } catch (error) {
      throw new Error(`cannot read the CA file '${config.caFile}' of S3 store ${storeLabel(config)}: ${(error as Error).message}`, { cause: error });
    }
  }
  // The SDK is pinned; its warning that later releases will need Node 22 (printed on every CLI run
  // that touches S3) is news for whoever upgrades it, not for the person running a backup.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  if (config.insecure) options.log?.warn(`TLS verification is off for S3 store ${storeLabel(config)} (insecure: true)`);
  const { s3, Upload, CallerSignalHttpHandler } = await import('./s3Sdk');
  return new S3Store(config, settings, { sdk: s3, Upload, HttpHandler: CallerSignalHttpHandler }, options.log, ca);
}

/** The SDK's parts a store uses, loaded with the SDK. */
interface SdkParts {
  sdk: typeof S3Sdk;
  Upload: typeof MultipartUpload;
  HttpHandler: typeof CallerSignalHttpHandler;
}

/**
 * The signal of each call in flight: on the input of the command it sent (the SDK's middleware copies
 * the input, keys and symbols alike, and serializes only the operation's members), then by each HTTP
 * request (one per attempt) that input became; see `S3Store.send`.
 */
const CALLER_SIGNAL = Symbol('caller signal');
const signalOfRequest = new WeakMap<object, AbortSignal>();

type SignerProvider = S3Sdk.S3Client['config']['signer'];

/**
 * The SDK builds a new signer for every request, from a copy of the whole client configuration, and
 * derives its signing key anew: a twentieth of what a long run of small uploads allocated (5 000
 * uploads: 85 young-generation collections with one signer, 90 without). One signer per auth scheme
 * serves them all; it still reads the credentials and the clock offset at each signing, and keeps
 * its signing key for the day.
 */
function reuseSigners(config: { signer: SignerProvider }): void {
  const build = config.signer;
  const signers = new Map<string, ReturnType<SignerProvider>>();
  config.signer = (authScheme) => {
    const key = JSON.stringify([authScheme?.name, authScheme?.signingName, authScheme?.signingRegion, authScheme?.signingRegionSet]);
    let signer = signers.get(key);
    if (!signer) {
      signer = build(authScheme);
      signers.set(key, signer);
      // A failure (credentials not found yet) is not kept: the next request builds again.
      signer.catch(() => signers.delete(key));
    }
    return signer;
  };
}

export function storeLabel(config: Pick<S3StoreConfig, 'endpoint' | 'region'>): string {
  return config.endpoint ?? `AWS S3 (${config.region})`;
}

export class S3Store {
  /** Retries 5xx, throttling and network errors itself; used where the request body can be sent again. */
  private readonly client: S3Sdk.S3Client;
  /** Makes one attempt: for streamed bodies, which only `withRetries` can reopen. */
  private readonly singleAttemptClient: S3Sdk.S3Client;
  private readonly agents: (http.Agent | https.Agent)[];
  private readonly sdk: typeof S3Sdk;
  private readonly Upload: typeof MultipartUpload;
  readonly label: string;

  constructor(
    readonly config: S3StoreConfig,
    readonly settings: S3TransferSettings,
    { sdk, Upload, HttpHandler }: SdkParts,
    log: Logger | undefined,
    ca: Buffer | undefined,
  ) {
    this.sdk = sdk;
    this.Upload = Upload;
    this.label = storeLabel(config);
    const sockets = { keepAlive: true, maxSockets: Math.max(16, settings.partConcurrency * 2) };
    const httpAgent = new http.Agent(sockets);
    const httpsAgent = new https.Agent({ ...sockets, ...(ca ? { ca } : {}), rejectUnauthorized: !config.insecure });
    this.agents = [httpAgent, httpsAgent];
    const custom = config.endpoint !== undefined;
    const clientConfig: S3Sdk.S3ClientConfig = {
      region: config.region,
      ...(custom ? { endpoint: config.endpoint } : {}),
      forcePathStyle: config.pathStyle ?? custom,
      ...(config.credentials ? { credentials: config.credentials } : {}),
      // Recent SDKs add CRC checksums with aws-chunked framing to every upload; several S3-compatible
      // servers store that framing as part of the object. Only send checksums an operation requires.
      ...(custom ? { requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' } : {}),
      requestHandler: new HttpHandler({ httpAgent, httpsAgent, connectionTimeout: settings.connectTimeoutMs, socketTimeout: settings.idleTimeoutMs }, (request) => signalOfRequest.get(request)),
      // Without it every request builds, sorts and resolves the whole middleware stack anew: a fifth of
      // what a snapshot mirror allocated per snapshot.
      cacheMiddleware: true,
      maxAttempts: settings.retry.attempts,
      retryMode: 'standard',
      // Without a logger the SDK writes its warnings to the console; they belong in our log. Its info
      // lines (one per request) are left out, and with no `info` at all the SDK does not build them:
      // a filtered copy of each request's input and output, only to be dropped (its logger middleware
      // calls `logger.info?.(…)`, which skips the arguments). The type asks for `info` regardless.
      logger: { trace() {}, debug() {}, warn: (...parts: unknown[]) => log?.debug(`S3 SDK: ${parts.join(' ')}`), error: (...parts: unknown[]) => log?.debug(`S3 SDK: ${parts.join(' ')}`) } as unknown as S3Sdk.S3ClientConfig['logger'],
    };
    this.client = new sdk.S3Client(clientConfig);
    this.singleAttemptClient = new sdk.S3Client({ ...clientConfig, maxAttempts: 1 });
    for (const client of [this.client, this.singleAttemptClient]) {
      reuseSigners(client.config);
      // The last step before the HTTP handler, for every attempt: the request is the signed one it sends.
      client.middlewareStack.add(
        (next) => (args) => {
          const signal = (args.input as { [CALLER_SIGNAL]?: unknown })[CALLER_SIGNAL];
          if (signal instanceof AbortSignal && typeof args.request === 'object' && args.request !== null) signalOfRequest.set(args.request, signal);
          return next(args);
        },
        { step: 'deserialize', name: 'callerSignal' },
      );
    }
  }

  get bucket(): string {
    return this.config.bucket;
  }

  /** Fails with a clear error when the bucket is missing, unreachable or not accessible. */
  async checkBucket(signal?: AbortSignal): Promise<void> {
    await this.call('read', undefined, signal, () => this.send(this.client, new this.sdk.HeadBucketCommand({ Bucket: this.bucket }), signal));
  }

  async head(key: string, signal?: AbortSignal): Promise<S3ObjectInfo | undefined> {
    try {
      const head = await this.call('read', key, signal, () => this.send(this.client, new this.sdk.HeadObjectCommand({ Bucket: this.bucket, Key: key }), signal));
      return { key, size: head.ContentLength ?? 0, lastModified: head.LastModified, etag: head.ETag, storageClass: head.StorageClass };
    } catch (error) {
      if (error instanceof S3StoreError && error.kind === 'no-such-key') return undefined;
      throw error;
    }
  }

  /** One page of a listing (up to `maxKeys`, at most 1000); pass `nextToken` back for the next. */
  async listPage(options: { prefix?: string; delimiter?: string; continuationToken?: string; maxKeys?: number; signal?: AbortSignal } = {}): Promise<S3ListPage> {
    const page = await this.call('list', undefined, options.signal, () =>
      this.send(
        this.client,
        new this.sdk.ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: options.prefix,
          Delimiter: options.delimiter,
          ContinuationToken: options.continuationToken,
          MaxKeys: options.maxKeys,
        }),
        options.signal,
      ),
    );
    return {
      objects: (page.Contents ?? []).map((entry) => ({ key: entry.Key ?? '', size: entry.Size ?? 0, lastModified: entry.LastModified, etag: entry.ETag, storageClass: entry.StorageClass })),
      prefixes: (page.CommonPrefixes ?? []).flatMap((entry) => (entry.Prefix ? [entry.Prefix] : [])),
      nextToken: page.IsTruncated ? page.NextContinuationToken : undefined,
    };
  }

  /** Every object under `prefix`, page after page. */
  async *listObjects(options: { prefix?: string; signal?: AbortSignal } = {}): AsyncGenerator<S3ObjectInfo> {
    let continuationToken: string | undefined;
    do {
      const page = await this.listPage({ ...options, continuationToken });
      yield* page.objects;
      continuationToken = page.nextToken;
    } while (continuationToken);
  }

  async delete(key: string, signal?: AbortSignal): Promise<void> {
    await this.call('delete', key, signal, () => this.send(this.client, new this.sdk.DeleteObjectCommand({ Bucket: this.bucket, Key: key }), signal));
  }

  /** The bucket's lifecycle configuration; no rules when it has none. */
  async lifecycle(signal?: AbortSignal): Promise<S3Lifecycle> {
    if (signal) throwIfAborted(signal);
    try {
      const answer = await this.send(this.client, new this.sdk.GetBucketLifecycleConfigurationCommand({ Bucket: this.bucket }), signal);
      return { rules: answer.Rules ?? [], ...(answer.TransitionDefaultMinimumObjectSize ? { transitionDefaultMinimumObjectSize: answer.TransitionDefaultMinimumObjectSize } : {}) };
    } catch (error) {
      // A 404 of its own, which the general description would take for a missing bucket.
      if ((error as { name?: unknown }).name === 'NoSuchLifecycleConfiguration') return { rules: [] };
      throw this.describe(error, 'read the lifecycle rules of', undefined, signal);
    }
  }

  /** Replaces the bucket's whole lifecycle configuration; no rules deletes it (S3 refuses an empty one). */
  async setLifecycle(lifecycle: S3Lifecycle, signal?: AbortSignal): Promise<void> {
    if (lifecycle.rules.length === 0) {
      await this.call('delete the lifecycle rules of', undefined, signal, () => this.send(this.client, new this.sdk.DeleteBucketLifecycleCommand({ Bucket: this.bucket }), signal));
      return;
    }
    await this.call('write the lifecycle rules of', undefined, signal, () =>
      this.send(
        this.client,
        new this.sdk.PutBucketLifecycleConfigurationCommand({
          Bucket: this.bucket,
          LifecycleConfiguration: { Rules: lifecycle.rules },
          ...(lifecycle.transitionDefaultMinimumObjectSize ? { TransitionDefaultMinimumObjectSize: lifecycle.transitionDefaultMinimumObjectSize } : {}),
        }),
        signal,
      ),
    );
  }

  /** Small objects held in memory (state files, markers). */
  async putBytes(key: string, data: Uint8Array | string, options: S3PutOptions = {}): Promise<S3PutResult> {
    const body = typeof data === 'string' ? Buffer.from(data) : data;
    const result = await this.call('write', key, options.signal, () =>
      this.send(this.client, new this.sdk.PutObjectCommand({ ...this.putParams(key, options), Body: body, ContentLength: body.byteLength }), options.signal),
    );
    options.progress?.report({ bytes: body.byteLength, totalBytes: body.byteLength });
    return { key, bytes: body.byteLength, sha256: options.sha256 ? createHash('sha256').update(body).digest('hex') : undefined, etag: result.ETag, multipart: false };
  }

  /**
   * Uploads a file: one streamed PutObject (sent again from the start on a retryable failure) up to
   * the multipart threshold, a multipart upload above it.
   */
  async putFile(key: string, file: string, options: S3PutOptions = {}): Promise<S3PutResult> {
    const { size } = await stat(file);
    if (size > this.settings.multipartThresholdBytes) return this.putStream(key, createReadStream(file), { ...options, totalBytes: size });
    return this.withRetries('write', key, options.signal, async () => {
      const meter = new ByteMeter(options, size);
      const contents = createReadStream(file);
      contents.once('error', (error) => meter.destroy(error));
      try {
        const result = await this.send(this.singleAttemptClient, new this.sdk.PutObjectCommand({ ...this.putParams(key, options), Body: contents.pipe(meter), ContentLength: size }), options.signal);
        meter.flush();
        if (meter.bytes !== size) throw new S3StoreError(`'${file}' changed size while it was uploaded (${size} → ${meter.bytes} bytes)`, 'other');
        return { key, bytes: size, sha256: meter.sha256(), etag: result.ETag, multipart: false };
      } finally {
        // A failed attempt leaves the file open otherwise; the next one reads it again from the start.
        contents.destroy();
      }
    });
  }

  /**
   * Uploads a stream of unknown length as a multipart upload (a single PutObject when it turns out
   * smaller than one part). Parts are retried; a failed or cancelled upload is aborted on the server.
   */
  async putStream(key: string, body: Readable, options: S3PutOptions & { totalBytes?: number } = {}): Promise<S3PutResult> {
    const meter = new ByteMeter(options, options.totalBytes);
    const upload = new this.Upload({
      client: this.client,
      params: { ...this.putParams(key, options), Body: body.pipe(meter) },
      partSize: this.settings.partSizeBytes,
      queueSize: this.settings.partConcurrency,
      leavePartsOnError: false,
    });
    const abort = () => void upload.abort().catch(() => undefined);
    options.signal?.addEventListener('abort', abort, { once: true });
    body.once('error', (error) => meter.destroy(error));
    try {
      const result = await this.call('write', key, options.signal, () => upload.done());
      meter.flush();
      return { key, bytes: meter.bytes, sha256: meter.sha256(), etag: result.ETag, multipart: meter.bytes > this.settings.partSizeBytes };
    } finally {
      options.signal?.removeEventListener('abort', abort);
      body.destroy();
    }
  }

  /** The object's body as a stream; the caller must consume or destroy it. */
  async getStream(key: string, options: { signal?: AbortSignal; range?: string } = {}): Promise<{ body: Readable; size: number; etag?: string; lastModified?: Date }> {
    const result = await this.call('read', key, options.signal, () =>
      this.send(this.client, new this.sdk.GetObjectCommand({ Bucket: this.bucket, Key: key, Range: options.range }), options.signal),
    );
    if (!(result.Body instanceof Readable)) throw new Error(`reading '${key}' from ${this.label} gave no stream`);
    return { body: result.Body, size: result.ContentLength ?? 0, etag: result.ETag, lastModified: result.LastModified };
  }

  /**
   * Downloads into `file` through a temporary name in the same folder, renamed only once every byte
   * arrived; a failure or cancellation leaves nothing under `file`. An existing `file` is replaced only
   * with `overwrite`.
   */
  async downloadFile(key: string, file: string, options: S3TransferOptions & { overwrite?: boolean } = {}): Promise<S3DownloadResult> {
    if (!options.overwrite && (await pathExists(file))) throw new FileExistsError(file);
    const partial = temporarySibling(file);
    try {
      return await this.withRetries('read', key, options.signal, async () => {
        const result = await this.send(this.singleAttemptClient, new this.sdk.GetObjectCommand({ Bucket: this.bucket, Key: key }), options.signal);
        if (!(result.Body instanceof Readable)) throw new Error(`reading '${key}' from ${this.label} gave no stream`);
        const expected = result.ContentLength;
        const meter = new ByteMeter(options, expected);
        await pipeline(result.Body, meter, createWriteStream(partial, { highWaterMark: STREAM_BUFFER_BYTES }), { signal: options.signal });
        meter.flush();
        if (expected !== undefined && meter.bytes !== expected) {
          // Retryable like any connection that broke mid-transfer.
          throw Object.assign(new Error(`the download ended after ${meter.bytes} of ${expected} bytes`), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
        }
        if (options.overwrite) await rename(partial, file);
        else await publishWithoutOverwrite(partial, file);
        return { key, path: file, bytes: meter.bytes, sha256: meter.sha256() };
      });
    } finally {
      await removeIfPresent(partial);
    }
  }

  dispose(): void {
    this.client.destroy();
    this.singleAttemptClient.destroy();
    for (const agent of this.agents) agent.destroy();
  }

  private putParams(key: string, options: S3PutOptions): S3Sdk.PutObjectCommandInput {
    return {
      Bucket: this.bucket,
      Key: key,
      ContentType: options.contentType,
      StorageClass: options.storageClass as S3Sdk.StorageClass | undefined,
      Metadata: options.metadata,
      ContentMD5: options.contentMd5,
      ...(options.ifAbsent ? { IfNoneMatch: '*' } : {}),
    };
  }

  /**
   * Sends a command, its requests aborted by `signal`. A call with options would rebuild the client's
   * middleware for every request (and drop the cache); the signal goes by the command's input instead.
   */
  private send<Input extends object, Output extends S3Sdk.ServiceOutputTypes>(client: S3Sdk.S3Client, command: S3Sdk.$Command<Input, Output, S3Sdk.S3ClientResolvedConfig>, signal: AbortSignal | undefined): Promise<Output> {
    if (signal) Object.assign(command.input, { [CALLER_SIGNAL]: signal });
    return client.send(command);
  }

  /** Runs one SDK call, turning its failure into an error that names the store, bucket and key. */
  private async call<Result>(operation: string, key: string | undefined, signal: AbortSignal | undefined, send: () => Promise<Result>): Promise<Result> {
    if (signal) throwIfAborted(signal);
    try {
      return await send();
    } catch (error) {
      throw this.describe(error, operation, key, signal);
    }
  }

  private async withRetries<Result>(operation: string, key: string, signal: AbortSignal | undefined, attempt: () => Promise<Result>): Promise<Result> {
    try {
      return await withRetries(attempt, { policy: this.settings.retry, isRetryable: isRetryableS3Failure, signal });
    } catch (error) {
      throw this.describe(error, operation, key, signal);
    }
  }

  private describe(error: unknown, operation: string, key: string | undefined, signal: AbortSignal | undefined): unknown {
    const cancelled = signal ? cancellationOr(error, signal) : error;
    if (cancelled !== error || error instanceof S3StoreError || error instanceof FileExistsError) return cancelled;
    return describeS3Failure(error, { store: this.label, bucket: this.bucket, operation, key, credentialsFrom: this.config.credentials ? 'store' : 'AWS credential chain' });
  }
}

/**
 * What the meter and a download's file hold before the stream waits. A response arrives in chunks of
 * up to 64 KiB, and with Node's default of 16 KiB the stream stopped at every chunk until the file had
 * taken it: downloads ran at 0.80-0.90 of the SDK's own GetObject piped to a file, 0.93-1.12 with this.
 */
const STREAM_BUFFER_BYTES = 1024 * 1024;

/** Counts (and on request hashes) the bytes that pass, and reports them as progress a few times a second. */
class ByteMeter extends Transform {
  bytes = 0;
  private readonly hash: Hash | undefined;
  private readonly progress: ThrottledProgress | undefined;

  constructor(
    options: S3TransferOptions,
    private readonly totalBytes: number | undefined,
  ) {
    super({ highWaterMark: STREAM_BUFFER_BYTES });
    this.progress = options.progress && new ThrottledProgress(options.progress);
    this.hash = options.sha256 ? createHash('sha256') : undefined;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null, data?: Buffer) => void): void {
    this.bytes += chunk.length;
    this.hash?.update(chunk);
    this.progress?.update({ bytes: this.bytes, totalBytes: this.totalBytes });
    done(null, chunk);
  }

  /** Reports the final count. */
  flush(): void {
    this.progress?.flush({ bytes: this.bytes, totalBytes: this.totalBytes });
  }

  sha256(): string | undefined {
    return this.hash?.digest('hex');
  }
}
