import path from 'node:path';
import { stringify } from 'yaml';
import * as z from 'zod';
import type { KubeObject } from '../../clients/kube';
import { FileExistsError, makeFolders, writeFileAtomically } from '../../core/atomicFiles';
import { defineAction, type ActionContext, type PlannedOperation } from '../../core/actions/spec';
import { isInsideOrEqual, resolveUserPath } from '../paths';
import { newestFirst, summarizeCnpgBackup } from './backups';
import { BARMAN_CLOUD_PLUGIN, CNPG_RESOURCES, clusterNameOf, cnpgObjectName, cnpgTargetParams, CnpgNamespace, phaseOf } from './resources';

/** Where PostgreSQL stops replaying WAL (CloudNativePG's `recoveryTarget`); the latest WAL when left out. */
const recoveryTarget = z
  .object({
    targetTime: z.string().min(1).optional().describe('A timestamp, e.g. 2026-07-01 02:00:00.00000+00.'),
    targetLSN: z.string().regex(/^[0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8}$/, 'an LSN such as 0/5000060').optional(),
    targetXID: z.string().regex(/^\d+$/, 'a transaction id (digits)').optional(),
    targetName: z.string().min(1).optional().describe('A restore point made with pg_create_restore_point.'),
    targetImmediate: z.literal(true).optional().describe('Stop as soon as the backup is consistent.'),
    exclusive: z.boolean().optional().describe('Stop just before the target instead of just after it.'),
  })
  .strict()
  .refine((target) => ['targetTime', 'targetLSN', 'targetXID', 'targetName', 'targetImmediate'].filter((field) => target[field as keyof typeof target] !== undefined).length === 1, 'give exactly one of targetTime, targetLSN, targetXID, targetName, targetImmediate');

const restoreParams = z
  .object({
    ...cnpgTargetParams,
    newClusterName: cnpgObjectName.describe('The name of the new Cluster the recovery makes.'),
    backup: cnpgObjectName.optional().describe('Recover from this CloudNativePG Backup, or `latest`: the newest completed Backup of `sourceCluster`.'),
    sourceCluster: cnpgObjectName.optional().describe('The Cluster whose newest completed Backup `backup: latest` takes, and whose instances, image and storage the new one copies.'),
    objectStore: cnpgObjectName.optional().describe('Recover from this Barman Cloud plugin ObjectStore (barmancloud.cnpg.io/v1), with `serverName`.'),
    serverName: cnpgObjectName.optional().describe("The original Cluster's server name in the object store (its name, unless it set one)."),
    volumeSnapshot: cnpgObjectName.optional().describe('Recover from this VolumeSnapshot of the data directory.'),
    recoveryTarget: recoveryTarget.optional(),
    instances: z.number().int().min(1).max(9).optional().describe("How many instances; the original Cluster's count, or 1."),
    storageSize: z.string().regex(/^\d+(\.\d+)?(Ki|Mi|Gi|Ti)$/, 'a size such as 10Gi').optional().describe("The volume size; the original Cluster's, or 1Gi."),
    file: z.string().min(1).optional().describe('Write the manifest to this file of the workspace (GitOps); never overwrites.'),
    apply: z.boolean().optional().describe('Create the Cluster in the cluster; when left out, only without `file`.'),
    force: z.boolean().default(false).describe('When applying: replace an existing Cluster of that name (deleting it and its data).'),
  })
  .strict()
  .superRefine((params, issues) => {
    const sources = (['backup', 'objectStore', 'volumeSnapshot'] as const).filter((field) => params[field] !== undefined);
    if (sources.length !== 1) issues.addIssue({ code: 'custom', path: ['backup'], message: 'give exactly one source: `backup`, `objectStore` (with `serverName`) or `volumeSnapshot`' });
    if (params.objectStore !== undefined && params.serverName === undefined) issues.addIssue({ code: 'custom', path: ['serverName'], message: '`objectStore` needs the original Cluster\'s `serverName`' });
    if (params.backup === 'latest' && params.sourceCluster === undefined) issues.addIssue({ code: 'custom', path: ['sourceCluster'], message: '`backup: latest` needs the `sourceCluster` whose newest completed Backup to take' });
    if (params.apply === false && params.file === undefined) issues.addIssue({ code: 'custom', path: ['apply'], message: 'give a `file` to write, or apply the Cluster' });
    if (params.force && !applies(params)) issues.addIssue({ code: 'custom', path: ['force'], message: '`force` is for applying; a GitOps `file` is never overwritten' });
  });

type RestoreParams = z.output<typeof restoreParams>;

function applies(params: Pick<RestoreParams, 'apply' | 'file'>): boolean {
  return params.apply ?? params.file === undefined;
}

export interface CnpgRestoreResult {
  cluster: string;
  namespace: string;
  newClusterName: string;
  manifest: string;
  /** The Backup recovered from, `latest` resolved. */
  backup?: string;
  /** The workspace-relative file written. */
  file?: string;
  applied: boolean;
  replaced: boolean;
}

/** The source Cluster whose shape the new one copies: the Backup's Cluster, `sourceCluster`, or the object store's server. */
function originName(params: RestoreParams, backup: KubeObject | undefined): string | undefined {
  return backup ? clusterNameOf(backup) : (params.sourceCluster ?? params.serverName);
}

function bootstrapRecovery(params: RestoreParams): { recovery: Record<string, unknown>; externalClusters?: Record<string, unknown>[] } {
  const target = params.recoveryTarget ? { recoveryTarget: params.recoveryTarget } : {};
  if (params.backup) return { recovery: { backup: { name: params.backup }, ...target } };
  if (params.volumeSnapshot) return { recovery: { volumeSnapshots: { storage: { name: params.volumeSnapshot, kind: 'VolumeSnapshot', apiGroup: 'snapshot.storage.k8s.io' } }, ...target } };
  const source = `${params.serverName ?? ''}-origin`;
  return {
    recovery: { source, ...target },
    externalClusters: [{ name: source, plugin: { name: BARMAN_CLOUD_PLUGIN, parameters: { barmanObjectName: params.objectStore ?? '', serverName: params.serverName ?? '' } } }],
  };
}

/** The Backup to recover from, `latest` being the newest completed one of `sourceCluster`. */
async function sourceBackup(cnpg: CnpgNamespace, params: RestoreParams): Promise<KubeObject | undefined> {
  if (params.backup === undefined) return undefined;
  if (params.backup === 'latest') {
    const source = params.sourceCluster ?? '';
    await cnpg.find('cluster', source);
    const newest = (await cnpg.backupsOf(source)).filter((backup) => phaseOf(backup) === 'completed').sort((a, b) => newestFirst(summarizeCnpgBackup(a), summarizeCnpgBackup(b)))[0];
    if (!newest) throw new Error(`\`backup\`: CloudNativePG Cluster ${source} in ${cnpg.where} has no completed Backup to recover from`);
    return newest;
  }
  const backup = await cnpg.find('backup', params.backup);
  if (phaseOf(backup) !== 'completed') throw new Error(`\`backup\`: CloudNativePG Backup ${params.backup} in ${cnpg.where} is ${phaseOf(backup) ?? 'pending'}, not completed; recover from a completed Backup`);
  return backup;
}

/** The new Cluster's manifest: the origin's instances, image and storage where it exists, and `bootstrap.recovery` from the source. */
async function recoveryManifest(cnpg: CnpgNamespace, params: RestoreParams): Promise<{ manifest: KubeObject; backup?: string }> {
  const backup = await sourceBackup(cnpg, params);
  const origin = originName(params, backup);
  const original = origin ? await cnpg.lookup('cluster', origin) : undefined;
  const spec = (original?.spec ?? {}) as { instances?: number; imageName?: string; storage?: { size?: string; storageClass?: string } };
  const { recovery, externalClusters } = bootstrapRecovery({ ...params, ...(backup ? { backup: backup.metadata.name } : {}) });
  const manifest = {
    apiVersion: 'postgresql.cnpg.io/v1',
    kind: 'Cluster',
    metadata: { name: params.newClusterName, namespace: params.namespace },
    spec: {
      instances: params.instances ?? spec.instances ?? 1,
      ...(spec.imageName ? { imageName: spec.imageName } : {}),
      storage: { ...spec.storage, size: params.storageSize ?? spec.storage?.size ?? '1Gi' },
      bootstrap: { recovery },
      ...(externalClusters ? { externalClusters } : {}),
    },
  };
  return { manifest, ...(backup ? { backup: backup.metadata.name } : {}) };
}

function gitOpsFile(params: RestoreParams, ctx: ActionContext): string | undefined {
  if (params.file === undefined) return undefined;
  const file = resolveUserPath(params.file, ctx.workspaceDir);
  if (!isInsideOrEqual(path.resolve(ctx.workspaceDir), file)) throw new Error(`\`file\`: ${params.file} is outside the workspace; the GitOps repository is the workspace's`);
  return file;
}

function sourceText(params: RestoreParams): string {
  if (params.backup) return `Backup ${params.backup}`;
  if (params.volumeSnapshot) return `VolumeSnapshot ${params.volumeSnapshot}`;
  return `Barman Cloud plugin ObjectStore ${params.objectStore ?? ''} (server ${params.serverName ?? ''})`;
}

export const cnpgRestore = defineAction({
  id: 'cnpg.restore',
  title: 'Restore CloudNativePG Cluster',
  description:
    'Writes a new CloudNativePG Cluster with bootstrap.recovery from a Backup, a Barman Cloud plugin object store or a volume snapshot, with an optional recovery target (time, LSN, XID, restore point or immediate): to a GitOps file of the workspace (never overwritten), applied to the cluster (replacing an existing Cluster of that name only when forced), or both; `backup: latest` takes the newest completed Backup of `sourceCluster`. The plan shows the manifest.',
  params: restoreParams,
  destructive: true,
  async plan(params, ctx) {
    const cnpg = await CnpgNamespace.connect(ctx, params);
    const { manifest, backup } = await recoveryManifest(cnpg, params);
    const yaml = stringify(manifest);
    const file = gitOpsFile(params, ctx);
    const existing = applies(params) ? await cnpg.lookup('cluster', params.newClusterName) : undefined;
    const summary = `Restore CloudNativePG Cluster ${params.namespace}/${params.newClusterName} in cluster ${params.cluster} from ${sourceText({ ...params, ...(backup ? { backup } : {}) })}${params.recoveryTarget ? ' up to its recovery target' : ''}`;
    const operations: PlannedOperation[] = [];
    if (file) operations.push({ kind: 'create', target: `file ${path.relative(ctx.workspaceDir, file)}`, detail: `manifest:\n${yaml}` });
    if (applies(params)) {
      const refused = existing && !params.force ? 'refused: a Cluster of that name exists (force replaces it and its data); ' : '';
      operations.push({ kind: existing ? 'overwrite' : 'create', target: `Cluster ${params.namespace}/${params.newClusterName} in cluster ${params.cluster}`, detail: `${refused}manifest:\n${yaml}` });
    }
    return { summary, operations, destructive: existing !== undefined };
  },
  async run(params, ctx): Promise<CnpgRestoreResult> {
    const cnpg = await CnpgNamespace.connect(ctx, params);
    const { manifest, backup } = await recoveryManifest(cnpg, params);
    const yaml = stringify(manifest);
    const result: CnpgRestoreResult = { cluster: params.cluster, namespace: params.namespace, newClusterName: params.newClusterName, manifest: yaml, ...(backup ? { backup } : {}), applied: false, replaced: false };
    // Both refusals come before anything is written: an existing Cluster, then an existing file.
    const existing = applies(params) ? await cnpg.lookup('cluster', params.newClusterName) : undefined;
    if (existing && !params.force) throw new Error(`CloudNativePG Cluster ${params.newClusterName} already exists in ${cnpg.where}; a restore makes a new Cluster: choose another \`newClusterName\`, or set \`force\` to replace it and its data`);
    const file = gitOpsFile(params, ctx);
    if (file) {
      await makeFolders(path.dirname(file));
      await writeFileAtomically(file, yaml, { overwrite: false }).catch((error: unknown) => {
        throw error instanceof FileExistsError ? new FileExistsError(path.relative(ctx.workspaceDir, file)) : error;
      });
      result.file = path.relative(ctx.workspaceDir, file);
    }
    if (!applies(params)) return result;
    if (existing) await cnpg.client.deleteObject(CNPG_RESOURCES.cluster, params.namespace, params.newClusterName);
    await cnpg.create('cluster', manifest);
    return { ...result, applied: true, replaced: existing !== undefined };
  },
  render(result: CnpgRestoreResult) {
    const where = `CloudNativePG Cluster ${result.namespace}/${result.newClusterName}`;
    const from = result.backup ? ` from Backup ${result.backup}` : '';
    const lines = [
      ...(result.file ? [`${where}${from} written to ${result.file}${result.applied ? '' : ': commit it for Flux to apply'}.`] : []),
      ...(result.applied ? [`${where}${from} ${result.replaced ? 'replaced' : 'created'} in cluster ${result.cluster}; it recovers as it starts.`] : []),
    ];
    return `${lines.join('\n')}\n\n\`\`\`yaml\n${result.manifest}\`\`\``;
  },
});
