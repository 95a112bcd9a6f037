/**
 * Failures the s3rver test bed cannot produce (it never throttles, does not check signatures, and
 * answers on loopback), shaped as the AWS SDK and Node report them.
 */
import assert from 'node:assert/strict';
import { describeS3Failure, isRetryableS3Failure, type S3FailureContext } from '../../src/clients/s3Errors';

const context: S3FailureContext = { store: 'https://garage.lan:3900', bucket: 'backups', operation: 'write', key: 'faces/a.webp', credentialsFrom: 'store' };

function serviceError(name: string, status: number, message = ''): Error {
  return Object.assign(new Error(message || name), { name, $metadata: { httpStatusCode: status, attempts: 4 } });
}

function networkError(code: string, message = code): Error {
  return Object.assign(new Error(message), { code });
}

describe('S3 failures', () => {
  it('retries 5xx, throttling and broken connections, and nothing a retry cannot fix', () => {
    for (const error of [serviceError('InternalError', 500), serviceError('SlowDown', 503), serviceError('TooManyRequests', 429), networkError('ECONNRESET'), networkError('ECONNREFUSED'), networkError('ERR_STREAM_PREMATURE_CLOSE'), new Error('socket hang up')]) {
      assert.equal(isRetryableS3Failure(error), true, String(error));
    }
    for (const error of [serviceError('AccessDenied', 403), serviceError('NoSuchBucket', 404), networkError('DEPTH_ZERO_SELF_SIGNED_CERT'), Object.assign(new Error('aborted'), { name: 'AbortError' })]) {
      assert.equal(isRetryableS3Failure(error), false, String(error));
    }
  });

  it('says which part of the credentials is wrong, and where they came from', () => {
    const secret = describeS3Failure(serviceError('SignatureDoesNotMatch', 403), context);
    assert.equal(secret.kind, 'access-denied');
    assert.match(secret.message, /secret access key does not match the access key ID; credentials from the store$/);
    const policy = describeS3Failure(serviceError('AccessDenied', 403, 'Access Denied'), { ...context, credentialsFrom: 'AWS credential chain' });
    assert.equal(policy.message, "access denied by https://garage.lan:3900 (write 'faces/a.webp' in bucket 'backups'): the credentials lack the permission: Access Denied; credentials from the AWS credential chain");
    assert.equal(describeS3Failure(serviceError('Forbidden', 403), { ...context, key: undefined }).kind, 'access-denied');
  });

  it('tells a missing bucket from a missing object, also for bodiless HEAD answers', () => {
    assert.equal(describeS3Failure(serviceError('NotFound', 404), { ...context, key: undefined }).kind, 'no-such-bucket');
    assert.equal(describeS3Failure(serviceError('NotFound', 404), context).kind, 'no-such-key');
    assert.equal(describeS3Failure(serviceError('NoSuchBucket', 404), context).kind, 'no-such-bucket');
  });

  it('names TLS problems with the fix, and unreachable or broken connections', () => {
    const tls = describeS3Failure(networkError('SELF_SIGNED_CERT_IN_CHAIN', 'self-signed certificate in certificate chain'), context);
    assert.equal(tls.kind, 'tls');
    assert.match(tls.message, /set the store's caFile/);
    assert.equal(describeS3Failure(networkError('ERR_TLS_CERT_ALTNAME_INVALID', "Hostname/IP does not match certificate's altnames"), context).kind, 'tls');
    const unknownHost = describeS3Failure(networkError('ENOTFOUND', 'getaddrinfo ENOTFOUND garage.lan'), context);
    assert.equal(unknownHost.kind, 'unreachable');
    assert.match(unknownHost.message, /^cannot reach https:\/\/garage.lan:3900 \(ENOTFOUND\)/);
    assert.equal(describeS3Failure(networkError('ECONNRESET', 'read ECONNRESET'), context).kind, 'connection-lost');
  });

  it('reports throttling and server errors with the attempts made', () => {
    assert.match(describeS3Failure(serviceError('SlowDown', 503, 'Please reduce your request rate.'), context).message, /kept throttling write .* after 4 attempts: Please reduce your request rate\.$/);
    assert.match(describeS3Failure(serviceError('InternalError', 500, 'We encountered an internal error.'), context).message, /failed to write .* after 4 attempts: HTTP 500 InternalError: We encountered an internal error\.$/);
  });
});
