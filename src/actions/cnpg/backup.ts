import * as z from 'zod';
import { KubeError, type KubeObject } from '../../clients/kube';
import { defineAction, type ActionContext } from '../../core/actions/spec';
import { CancelledError, isCancellationError } from '../../core/errors';
import { ThrottledProgress } from '../../core/progress';
import { formatDuration } from '../../core/render';
import { summarizeCnpgBackup, type CnpgBackupSummary } from './backups';
import { BACKUP_TERMINAL_PHASES, CNPG_RESOURCES, cnpgObjectName, cnpgTargetParams, CnpgNamespace, configuredMethod, phaseOf } from './resources';

const backupParams = z
  .object({
    ...cnpgTargetParams,
    clusterName: cnpgObjectName.describe('The CloudNativePG Cluster to back up.'),
    name: cnpgObjectName.optional().describe('The Backup\'s name; `<cluster>-<UTC time>` as `kubectl cnpg backup` names it when left out.'),
    timeoutMinutes: z.number().positive().default(60).describe('How long to wait for the backup to complete.'),
  })
  .strict();

export interface CnpgBackupResult {
  cluster: string;
  namespace: string;
  backup: CnpgBackupSummary;
  /** Every phase the Backup went through while waited for, in order. */
  phases: string[];
}

/** `<cluster>-<YYYYMMDDhhmmss>` in UTC, as `kubectl cnpg backup` names a Backup. */
function backupName(clusterName: string, now: Date): string {
  return `${clusterName.slice(0, 48)}-${now.toISOString().replace(/\.\d+Z$/, '').replace(/[-:T]/g, '')}`;
}

const DEPRECATED_NOTE = 'the in-tree barmanObjectStore method is deprecated since CloudNativePG 1.26 in favour of the Barman Cloud plugin';

async function followBackup(cnpg: CnpgNamespace, name: string, timeoutMinutes: number, ctx: ActionContext, phases: string[]): Promise<KubeObject> {
  const progress = new ThrottledProgress(ctx.progress);
  let latest = 'not yet seen';
  const stillRunning = () => `CloudNativePG Backup ${name} keeps running in ${cnpg.where} (phase ${latest}); nothing was deleted. Follow it with cnpg.backups.list`;
  try {
    return await cnpg.client.waitForObject(CNPG_RESOURCES.backup, cnpg.namespace, name, {
      isDone: (object) => BACKUP_TERMINAL_PHASES.has(phaseOf(object) ?? ''),
      intervalMs: 250,
      timeoutMs: timeoutMinutes * 60_000,
      signal: ctx.signal,
      notDone: () => stillRunning(),
      onUpdate(object) {
        latest = phaseOf(object) ?? 'pending';
        if (phases.at(-1) !== latest) phases.push(latest);
        progress.update({ message: `backup ${name}: ${latest}` });
      },
    });
  } catch (error) {
    if (isCancellationError(error) || ctx.signal.aborted) throw new CancelledError(`Stopped waiting: ${stillRunning()}.`);
    if (error instanceof KubeError && /did not finish within/.test(error.message)) throw new Error(`CloudNativePG did not finish within ${formatDuration(timeoutMinutes * 60_000)}: ${stillRunning()}.`);
    throw error;
  } finally {
    progress.flush();
  }
}

export const cnpgBackup = defineAction({
  id: 'cnpg.backup',
  title: 'Back Up CloudNativePG Cluster',
  description:
    "Makes an on-demand CloudNativePG Backup with the method the Cluster is configured with (the Barman Cloud plugin, volume snapshots, or the deprecated in-tree Barman object store) and waits until it is completed. Fails with the Backup's error when it fails; cancelling stops waiting and leaves the Backup running.",
  params: backupParams,
  destructive: false,
  async plan(params, ctx) {
    const name = params.name ?? backupName(params.clusterName, new Date());
    const cnpg = await CnpgNamespace.connect(ctx, params);
    const configured = configuredMethod(await cnpg.find('cluster', params.clusterName));
    const detail = !configured
      ? 'the Cluster has no backup configured: the Backup will fail'
      : configured.method === 'plugin'
        ? `method plugin (${configured.plugin?.name ?? ''}), as the Cluster is configured`
        : configured.method === 'barmanObjectStore'
          ? `method barmanObjectStore, as the Cluster is configured; ${DEPRECATED_NOTE}`
          : 'method volumeSnapshot, as the Cluster is configured';
    return { summary: `Back up CloudNativePG Cluster ${params.namespace}/${params.clusterName} in cluster ${params.cluster} as Backup ${name}`, operations: [{ kind: 'create', target: `Backup ${params.namespace}/${name} in cluster ${params.cluster}`, detail }], destructive: false };
  },
  async run(params, ctx): Promise<CnpgBackupResult> {
    const cnpg = await CnpgNamespace.connect(ctx, params);
    const configured = configuredMethod(await cnpg.find('cluster', params.clusterName));
    if (!configured) throw new Error(`CloudNativePG Cluster ${params.clusterName} in ${cnpg.where} has no backup configured (no Barman Cloud plugin in spec.plugins, no spec.backup.barmanObjectStore or volumeSnapshot)`);
    const name = params.name ?? backupName(params.clusterName, new Date());
    const spec: Record<string, unknown> = { cluster: { name: params.clusterName }, method: configured.method, ...(configured.plugin ? { pluginConfiguration: configured.plugin } : {}) };
    await cnpg.create('backup', { apiVersion: 'postgresql.cnpg.io/v1', kind: 'Backup', metadata: { name, namespace: params.namespace }, spec });
    const phases: string[] = [];
    const backup = summarizeCnpgBackup(await followBackup(cnpg, name, params.timeoutMinutes, ctx, phases));
    if (backup.phase !== 'completed') throw new Error(`CloudNativePG Backup ${name} of Cluster ${params.clusterName} in cluster ${params.cluster} ended ${backup.phase ?? ''}${backup.error ? `: ${backup.error}` : ''}`);
    return { cluster: params.cluster, namespace: params.namespace, backup, phases };
  },
  render(result: CnpgBackupResult) {
    const { backup } = result;
    return [
      `CloudNativePG Backup ${backup.name} of Cluster ${result.namespace}/${backup.cluster} in cluster ${result.cluster}: ${backup.phase ?? ''}, method ${backup.method}.`,
      '',
      `- Phases: ${result.phases.join(' → ')}`,
      ...(backup.backupId ? [`- Backup id: ${backup.backupId}`] : []),
      ...(backup.started ? [`- Started ${backup.started}${backup.stopped ? `, stopped ${backup.stopped}` : ''}`] : []),
      ...(backup.method === 'barmanObjectStore' ? [`- Note: ${DEPRECATED_NOTE}.`] : []),
    ].join('\n');
  },
});
