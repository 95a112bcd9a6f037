/**
 * The AWS SDK parts the S3 client uses. In the shipped extension and CLI this is a bundle of its own
 * (`dist/s3-sdk.js`, ~1.4 MB) that Node reads only when a store is first opened; inlined, it would be
 * compiled with everything else at every start.
 */
export * as s3 from '@aws-sdk/client-s3';
export { Upload } from '@aws-sdk/lib-storage';
