/**
 * The AWS SDK parts the S3 client uses. In the shipped extension and CLI this is a bundle of its own
 * (`dist/s3-sdk.js`, ~1.4 MB) that Node reads only when a store is first opened; inlined, it would be
 * compiled with everything else at every start.
 */
import { NodeHttpHandler, type NodeHttpHandlerOptions } from '@smithy/node-http-handler';

export * as s3 from '@aws-sdk/client-s3';
export { Upload } from '@aws-sdk/lib-storage';

/**
 * The SDK's HTTP handler, aborting each request with the signal of the call that sent it. A client
 * that caches its middleware (one handler per command type, not a new middleware stack per request)
 * does so only for calls without options, so the signal cannot come with the call: `signalOf` finds
 * it by the request.
 */
export class CallerSignalHttpHandler extends NodeHttpHandler {
  constructor(
    options: NodeHttpHandlerOptions,
    private readonly signalOf: (request: object) => AbortSignal | undefined,
  ) {
    super(options);
  }

  override handle(request: Parameters<NodeHttpHandler['handle']>[0], options: NonNullable<Parameters<NodeHttpHandler['handle']>[1]> = {}): ReturnType<NodeHttpHandler['handle']> {
    const abortSignal = options.abortSignal ?? this.signalOf(request);
    return super.handle(request, abortSignal ? { ...options, abortSignal } : options);
  }
}
