import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { stringify } from 'yaml';
import { z } from 'zod';
import type { KubeObject } from '../../clients/kube';
import { FileExistsError, writeFileAtomically } from '../../core/atomicFiles';
import { defineAction, type ActionContext } from '../../core/actions/spec';
import { isInsideOrEqual, resolveUserPath } from '../paths';
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
    backup: cnpgObjectName.optional().describe('Recover from this CloudNativePG Backup.'),
    objectStore: cnpgObjectName.optional().describe('Recover from this Barman Cloud plugin ObjectStore (barmancloud.cnpg.io/v1), with `serverName`.'),
    serverName: cnpgObjectName.optional().describe("The original Cluster's server name in the object store (its name, unless it set one)."),
    volumeSnapshot: cnpgObjectName.optional().describe('Recover from this VolumeSnapshot of the data directory.'),
    recoveryTarget: recoveryTarget.optional(),
    instances: z.number().int().min(1).max(9).optional().describe("How many instances; the original Cluster's count, or 1."),
    storageSize: z.string().regex(/^\d+(\.\d+)?(Ki|Mi|Gi|Ti)$/, 'a size such as 10Gi').optional().describe("The volume size; the original Cluster's, or 1Gi."),
    file: z.string().min(1).optional().describe('Write the manifest to this file of the workspace (GitOps) instead of applying it; never overwrites.'),
    force: z.boolean().default(false).describe('When applying: replace an existing Cluster of that name (deleting it and its data).'),
  })
  .strict()
  .superRefine((params, issues) => {
    const sources = (['backup', 'objectStore', 'volumeSnapshot'] as const).filter((field) => params[field] !== undefined);
    if (sources.length !== 1) issues.addIssue({ code: 'custom', path: ['backup'], message: 'give exactly one source: `backup`, `objectStore` (with `serverName`) or `volumeSnapshot`' });
    if (params.objectStore !== undefined && params.serverName === undefined) issues.addIssue({ code: 'custom', path: ['serverName'], message: '`objectStore` needs the original Cluster\'s `serverName`' });
    if (params.file !== undefined && params.force) issues.addIssue({ code: 'custom', path: ['force'], message: '`force` is for applying; a GitOps `file` is never overwritten' });
  });

type RestoreParams = z.output<typeof restoreParams>;

export interface CnpgRestoreResult {
  cluster: string;
  namespace: string;
  newClusterName: string;
  manifest: string;
  /** The workspace-relative file written, or undefined when applied. */
  file?: string;
  replaced: boolean;
  phase?: string;
}

/** The source Cluster whose shape the new one copies: the Backup's Cluster, or the object store's server. */
function originName(params: RestoreParams, backup: KubeObject | undefined): string | undefined {
  return backup ? clusterNameOf(backup) : params.serverName;
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

/** The new Cluster's manifest: the origin's instances, image and storage where it exists, and `bootstrap.recovery` from the source. */
async function recoveryManifest(cnpg: CnpgNamespace, params: RestoreParams): Promise<KubeObject> {
  const backup = params.backup ? await cnpg.find('backup', params.backup) : undefined;
  if (backup && phaseOf(backup) !== 'completed') throw new Error(`\`backup\`: CloudNativePG Backup ${params.backup} in ${cnpg.where} is ${phaseOf(backup) ?? 'pending'}, not completed; recover from a completed Backup`);
  const origin = originName(params, backup);
  const original = origin ? await cnpg.lookup('cluster', origin) : undefined;
  const spec = (original?.spec ?? {}) as { instances?: number; imageName?: string; storage?: { size?: string; storageClass?: string } };
  const { recovery, externalClusters } = bootstrapRecovery(params);
  return {
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
    'Writes a new CloudNativePG Cluster with bootstrap.recovery from a Backup, a Barman Cloud plugin object store or a volume snapshot, with an optional recovery target (time, LSN, XID, restore point or immediate): to a GitOps file of the workspace (never overwritten), or applied to the cluster (replacing an existing Cluster of that name only when forced). The plan shows the manifest.',
  params: restoreParams,
  destructive: true,
  async plan(params, ctx) {
    const cnpg = await CnpgNamespace.connect(ctx, params);
    const manifest = stringify(await recoveryManifest(cnpg, params));
    const file = gitOpsFile(params, ctx);
    const existing = file ? undefined : await cnpg.lookup('cluster', params.newClusterName);
    const summary = `Restore CloudNativePG Cluster ${params.namespace}/${params.newClusterName} in cluster ${params.cluster} from ${sourceText(params)}${params.recoveryTarget ? ' up to its recovery target' : ''}`;
    const target = file ? `file ${path.relative(ctx.workspaceDir, file)}` : `Cluster ${params.namespace}/${params.newClusterName} in cluster ${params.cluster}`;
    const kind = existing ? 'overwrite' : 'create';
    const detail = `${existing && !params.force ? 'refused: a Cluster of that name exists (force replaces it and its data); ' : ''}manifest:\n${manifest}`;
    return { summary, operations: [{ kind, target, detail }], destructive: existing !== undefined };
  },
  async run(params, ctx): Promise<CnpgRestoreResult> {
    const cnpg = await CnpgNamespace.connect(ctx, params);
    const manifest = await recoveryManifest(cnpg, params);
    const yaml = stringify(manifest);
    const base = { cluster: params.cluster, namespace: params.namespace, newClusterName: params.newClusterName, manifest: yaml };
    const file = gitOpsFile(params, ctx);
    if (file) {
      await mkdir(path.dirname(file), { recursive: true });
      await writeFileAtomically(file, yaml, { overwrite: false }).catch((error: unknown) => {
        throw error instanceof FileExistsError ? new FileExistsError(path.relative(ctx.workspaceDir, file)) : error;
      });
      return { ...base, file: path.relative(ctx.workspaceDir, file), replaced: false };
    }
    const existing = await cnpg.lookup('cluster', params.newClusterName);
    if (existing && !params.force) throw new Error(`CloudNativePG Cluster ${params.newClusterName} already exists in ${cnpg.where}; a restore makes a new Cluster: choose another \`newClusterName\`, or set \`force\` to replace it and its data`);
    if (existing) await cnpg.client.deleteObject(CNPG_RESOURCES.cluster, params.namespace, params.newClusterName);
    const created = await cnpg.create('cluster', manifest);
    return { ...base, replaced: existing !== undefined, phase: phaseOf(created) };
  },
  render(result: CnpgRestoreResult) {
    const where = `CloudNativePG Cluster ${result.namespace}/${result.newClusterName}`;
    const done = result.file ? `${where} written to ${result.file}: commit it for Flux to apply.` : `${where} ${result.replaced ? 'replaced' : 'created'} in cluster ${result.cluster}; it recovers as it starts.`;
    return `${done}\n\n\`\`\`yaml\n${result.manifest}\`\`\``;
  },
});
