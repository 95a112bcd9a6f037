import { openS3Store, type S3Store } from '../clients/s3';
import type { ActionContext } from '../core/actions/spec';
import { secretName } from '../core/secrets';

async function resolveValue(ctx: ActionContext, value: string): Promise<string> {
  const secret = secretName(value);
  return secret === undefined ? value : ctx.secrets.resolve(secret);
}

/** The run's client for an S3 store of the inventory, opened on first use and shared by later steps. */
export function s3StoreFor(ctx: ActionContext, name: string): Promise<S3Store> {
  const entry = ctx.inventory.stores?.[name];
  if (!entry) return Promise.reject(new Error(`no S3 store '${name}' under \`stores:\` in lifeboat.yaml`));
  return ctx.clients.get(`s3:${name}`, async () => {
    const credentials = entry.credentials
      ? { accessKeyId: await resolveValue(ctx, entry.credentials.accessKeyId), secretAccessKey: await resolveValue(ctx, entry.credentials.secretAccessKey) }
      : undefined;
    return openS3Store(
      {
        region: entry.region,
        bucket: entry.bucket,
        ...(entry.endpoint ? { endpoint: entry.endpoint } : {}),
        ...(entry.pathStyle === undefined ? {} : { pathStyle: entry.pathStyle }),
        ...(credentials ? { credentials } : {}),
        ...(entry.caFile ? { caFile: entry.caFile } : {}),
        insecure: entry.tls?.insecure ?? false,
      },
      { log: ctx.log },
    );
  });
}
