import * as z from 'zod';
import type { KubeObject } from '../../clients/kube';
import { defineAction, type ActionContext, type PlannedOperation } from '../../core/actions/spec';
import { CancelledError, isCancellationError } from '../../core/errors';
import { ThrottledProgress } from '../../core/progress';
import { markdownEscape, markdownTable } from '../../core/render';
import { describeManaging, unsuspendedKustomizationsManaging } from '../flux/managed';
import { describeLanding, existingLandings, landingOf, namespacesIn, readBackupContents, readRestoreMessages, type BackupContents, type RestoreMessages } from './restoreContents';
import { backupNamed, newestCompletedBackupOf } from './scheduleBackups';
import { FAILED_PHASES, VELERO_RESOURCES, VeleroCluster, isTerminal, phaseOf, veleroObjectName, veleroTargetParams } from './resources';

const namespaceName = z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'a Kubernetes namespace name (lowercase letters, digits and -)');

const restoreCreateParams = z
  .object({
    ...veleroTargetParams,
    backup: veleroObjectName.optional().describe('The backup to restore; `latest`: the newest Completed backup holding the namespaces restored.'),
    fromSchedule: veleroObjectName.optional().describe('Restore the newest Completed backup of this Schedule instead.'),
    name: veleroObjectName.optional().describe('The Restore\'s name; the backup\'s (or schedule\'s) name and the UTC time, `BACKUP-YYYYMMDDhhmmss`, when left out.'),
    includeNamespaces: z.array(namespaceName).min(1).optional().describe('Namespaces restored; all those in the backup when left out.'),
    namespaceMapping: z.record(namespaceName, namespaceName).optional().describe('Restore a namespace under another name: `{ from: to }`.'),
    restorePVs: z.boolean().default(true).describe('Restore the persistent volumes\' data (`--restore-volumes`).'),
    existingResourcePolicy: z.enum(['none', 'update']).default('none').describe('What happens to objects that exist already: `none` skips them, `update` updates them.'),
    waitMinutes: z.number().positive().max(24 * 60).default(60),
  })
  .strict()
  .refine((params) => (params.backup === undefined) !== (params.fromSchedule === undefined), { message: 'give either `backup` or `fromSchedule`', path: ['backup'] });

type RestoreCreateParams = z.output<typeof restoreCreateParams>;

export interface RestoreCreateResult {
  cluster: string;
  restore: string;
  backup: string;
  phase: string;
  namespaces: string[];
  itemsRestored?: number;
  totalItems?: number;
  warnings: number;
  errors: number;
  /** Velero's messages behind the counts, at most MESSAGES_KEPT of each. */
  messages?: RestoreMessages;
  /** Why the messages could not be read, when there were some. */
  messagesUnread?: string;
}

/** Messages of each kind a result keeps and an error lists: a restore into a full namespace can warn about every object. */
const MESSAGES_KEPT = 20;

interface PreparedRestore {
  velero: VeleroCluster;
  backup: KubeObject;
  contents: BackupContents;
  /** Namespaces restored, as named in the backup. */
  sources: string[];
  /** Where each lands in the cluster (after the mapping). */
  targets: string[];
  /** Target namespaces a Flux Kustomization that is not suspended manages: the restore is refused while there are any. */
  fluxManaged: FluxManaged[];
}

interface FluxManaged {
  namespace: string;
  /** The Kustomizations, as a refusal names them. */
  kustomizations: string;
}

/** Why Flux stops the restore: it would put back what the restore changes. */
function fluxRefusal(cluster: string, managed: FluxManaged): string {
  return `refusing to restore into namespace ${managed.namespace} on cluster ${cluster}: Flux Kustomization ${managed.kustomizations} manages it and is not suspended, so Flux would undo the restore; suspend it first (flux.suspend) and resume it once the restore is verified`;
}

const stringList = (value: unknown): string[] => (Array.isArray(value) ? value.map(String) : []);
const count = (value: unknown): number => (typeof value === 'number' ? value : 0);

/**
 * Everything a restore needs checked before Velero is asked: the backup (Completed), the namespaces
 * (in the backup), and the Flux Kustomizations not suspended that manage a target namespace. A plan
 * names those (a step before it may suspend them); a run is refused while there are any.
 */
async function prepare(params: RestoreCreateParams, ctx: ActionContext): Promise<PreparedRestore> {
  const velero = await VeleroCluster.connect(ctx, params);
  const backup = params.fromSchedule ? await newestCompletedBackupOf(velero, params.fromSchedule) : await backupNamed(velero, params.backup ?? '', params.includeNamespaces);
  const name = backup.metadata.name;
  if (phaseOf(backup) !== 'Completed' && phaseOf(backup) !== 'PartiallyFailed') {
    throw new Error(`backup '${name}' in ${velero.where} is ${phaseOf(backup) ?? 'not started'}; only a Completed (or PartiallyFailed) backup can be restored`);
  }
  const contents = await readBackupContents(velero, name, ctx.signal);
  const declared = stringList(backup.spec?.includedNamespaces).filter((namespace) => namespace !== '*');
  const held = contents.read ? namespacesIn(contents) : declared;
  if (params.includeNamespaces && held.length > 0) {
    const missing = params.includeNamespaces.filter((namespace) => !held.includes(namespace));
    if (missing.length > 0) throw new Error(`\`includeNamespaces\`: backup '${name}' holds no namespace ${missing.join(', ')}; it holds ${held.join(', ')}`);
  }
  const sources = params.includeNamespaces ?? held;
  const unmapped = Object.keys(params.namespaceMapping ?? {}).filter((namespace) => held.length > 0 && !held.includes(namespace));
  if (unmapped.length > 0) throw new Error(`\`namespaceMapping\`: backup '${name}' holds no namespace ${unmapped.join(', ')}; it holds ${held.join(', ')}`);
  const targets = sources.map((namespace) => params.namespaceMapping?.[namespace] ?? namespace);
  const fluxManaged: FluxManaged[] = [];
  for (const target of targets) {
    const managing = await unsuspendedKustomizationsManaging(velero.client, target, ctx.signal);
    if (managing.length > 0) fluxManaged.push({ namespace: target, kustomizations: describeManaging(managing) });
  }
  return { velero, backup, contents, sources, targets, fluxManaged };
}

/**
 * What the backup holds in the namespaces restored, per kind, for the plan: where each object lands
 * and which exist already there (left as they are, or updated with `existingResourcePolicy: update`).
 */
async function contentOperations(prepared: PreparedRestore, params: RestoreCreateParams, signal: AbortSignal): Promise<PlannedOperation[]> {
  const { contents } = prepared;
  if (!contents.read) return [{ kind: 'read', target: `backup ${prepared.backup.metadata.name}`, detail: `what it holds could not be read: ${contents.reason}` }];
  const update = params.existingResourcePolicy === 'update';
  const byKind = Object.entries(contents.kinds)
    .map(([key, entries]) => ({ key, landings: entries.map((entry) => landingOf(key, entry, params.namespaceMapping)).filter((landing) => landing.source === undefined || prepared.sources.includes(landing.source)) }))
    .filter(({ landings }) => landings.length > 0);
  const all = byKind.flatMap(({ landings }) => landings);
  const exists = await existingLandings(prepared.velero.client, all, signal);
  const existing = new Map(all.map((landing, index) => [landing, exists[index]]));
  return byKind.map(({ key, landings }) => {
    const shown = landings.slice(0, 5).map(describeLanding).join(', ') + (landings.length > 5 ? `, and ${landings.length - 5} more` : '');
    const there = landings.filter((landing) => existing.get(landing) === true);
    const unknown = landings.some((landing) => existing.get(landing) === undefined);
    const names = there.slice(0, 5).map(describeLanding).join(', ') + (there.length > 5 ? `, and ${there.length - 5} more` : '');
    const already = there.length > 0 ? `already there: ${names} (${update ? 'updated' : 'skipped: left as they are'})` : 'none there yet';
    const checked = unknown ? `${already}; whether the others exist could not be checked` : already;
    return { kind: update && there.length > 0 ? ('overwrite' as const) : ('create' as const), target: key, items: landings.length, detail: `${shown}; ${checked}` };
  });
}

function restoreName(params: RestoreCreateParams, backup: string): string {
  if (params.name) return params.name;
  const stamp = new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14);
  return `${(params.fromSchedule ?? backup).slice(0, 200)}-${stamp}`;
}

type ReadMessages = Awaited<ReturnType<typeof readRestoreMessages>>;

/** At most MESSAGES_KEPT of a kind of messages, and how many more there are. */
function kept(messages: RestoreMessages): RestoreMessages {
  const trim = (lines: string[]) => (lines.length > MESSAGES_KEPT ? [...lines.slice(0, MESSAGES_KEPT), `and ${lines.length - MESSAGES_KEPT} more`] : lines);
  return { warnings: trim(messages.warnings), errors: trim(messages.errors) };
}

/** The messages as lines under their kind, or why they could not be read. */
function messageList(read: ReadMessages | undefined): string {
  if (read === undefined) return '';
  if (!read.read) return `\nVelero's messages could not be read: ${read.reason}`;
  const { warnings, errors } = kept(read.messages);
  const block = (title: string, lines: string[]) => (lines.length > 0 ? `\n${title}:\n${lines.map((line) => `- ${line}`).join('\n')}` : '');
  return block('Errors', errors) + block('Warnings', warnings);
}

/** Why a restore did not complete: its phase, failure reason, validation errors and counts, then Velero's messages. */
function failureOf(restore: KubeObject, read: ReadMessages | undefined): string {
  const status = restore.status ?? {};
  const reasons = [
    typeof status.failureReason === 'string' ? status.failureReason : undefined,
    ...stringList(status.validationErrors),
    `${count(status.errors)} error(s), ${count(status.warnings)} warning(s)`,
  ].filter(Boolean);
  return `Velero restore '${restore.metadata.name}' ended ${phaseOf(restore) ?? 'without a phase'}: ${reasons.join('; ')} (see \`velero restore describe ${restore.metadata.name} --details\`)${messageList(read)}`;
}

export const veleroRestoreCreate = defineAction({
  id: 'velero.restore.create',
  title: 'Restore from Velero Backup',
  description:
    "Restores namespaces from a Velero backup, or from the newest Completed backup of a Schedule, with optional namespace mapping, volume data and what to do with objects that exist already. Refused while a Flux Kustomization that is not suspended manages a target namespace. Waits with item progress; a PartiallyFailed or Failed restore fails the step with its reasons, and Velero's warnings and errors are listed one by one from the restore's results file.",
  params: restoreCreateParams,
  destructive: true,
  async plan(params, ctx) {
    const prepared = await prepare(params, ctx);
    const backup = prepared.backup.metadata.name;
    const mapping = prepared.sources.map((source, index) => (source === prepared.targets[index] ? source : `${source} → ${prepared.targets[index]}`)).join(', ');
    return {
      summary: `Restore backup '${backup}'${params.fromSchedule ? ` (newest of Schedule '${params.fromSchedule}')` : ''} into ${mapping || 'its namespaces'} on cluster '${params.cluster}'${params.restorePVs ? ' with volume data' : ', without volume data'}`,
      operations: [
        ...prepared.fluxManaged.map((managed) => ({ kind: 'verify' as const, target: `namespace ${managed.namespace}`, detail: `${fluxRefusal(params.cluster, managed)} (unless a step before this one suspends it)` })),
        ...(await contentOperations(prepared, params, ctx.signal)),
      ],
      destructive: params.existingResourcePolicy === 'update',
    };
  },
  async run(params, ctx): Promise<RestoreCreateResult> {
    const prepared = await prepare(params, ctx);
    const { velero } = prepared;
    const [managed] = prepared.fluxManaged;
    if (managed) throw new Error(fluxRefusal(params.cluster, managed));
    const backup = prepared.backup.metadata.name;
    const created = await velero.create('restore', {
      apiVersion: 'velero.io/v1',
      kind: 'Restore',
      metadata: { name: restoreName(params, backup) },
      spec: {
        backupName: backup,
        ...(params.includeNamespaces ? { includedNamespaces: params.includeNamespaces } : {}),
        ...(params.namespaceMapping ? { namespaceMapping: params.namespaceMapping } : {}),
        restorePVs: params.restorePVs,
        existingResourcePolicy: params.existingResourcePolicy,
      },
    });
    const name = created.metadata.name;
    const progress = new ThrottledProgress(ctx.progress);
    let restore: KubeObject;
    try {
      restore = await velero.client.waitForObject(VELERO_RESOURCES.restore, params.veleroNamespace, name, {
        isDone: (object) => isTerminal('restore', object),
        timeoutMs: params.waitMinutes * 60_000,
        signal: ctx.signal,
        onUpdate: (object) => {
          const counts = (object.status?.progress ?? {}) as { itemsRestored?: number; totalItems?: number };
          progress.update({ message: `Restore ${name}: ${phaseOf(object) ?? 'New'}`, ...(counts.totalItems ? { items: counts.itemsRestored ?? 0, totalItems: counts.totalItems } : {}) });
        },
      });
    } catch (error) {
      if (isCancellationError(error)) throw new CancelledError(`Cancelled waiting; Velero restore '${name}' keeps running in ${velero.where}`);
      throw error;
    }
    progress.flush();
    const status = restore.status ?? {};
    const read = count(status.warnings) + count(status.errors) > 0 ? await readRestoreMessages(velero, name, ctx.signal) : undefined;
    if (FAILED_PHASES.has(phaseOf(restore) ?? '')) throw new Error(failureOf(restore, read));
    if (count(status.warnings) > 0) ctx.log.warn(`Velero restore '${name}' completed with ${count(status.warnings)} warning(s)${messageList(read)}`);
    const counts = (status.progress ?? {}) as { itemsRestored?: number; totalItems?: number };
    return {
      cluster: params.cluster,
      restore: name,
      backup,
      phase: phaseOf(restore) ?? 'unknown',
      namespaces: prepared.targets,
      ...(counts.itemsRestored === undefined ? {} : { itemsRestored: counts.itemsRestored }),
      ...(counts.totalItems === undefined ? {} : { totalItems: counts.totalItems }),
      warnings: count(status.warnings),
      errors: count(status.errors),
      ...(read === undefined ? {} : read.read ? { messages: kept(read.messages) } : { messagesUnread: read.reason }),
    };
  },
  render(result: RestoreCreateResult) {
    const rows = [
      ['Backup', result.backup],
      ['Namespaces', result.namespaces.join(', ') || '(all in the backup)'],
      ['Items', result.totalItems === undefined ? '' : `${result.itemsRestored ?? 0} of ${result.totalItems}`],
      ['Warnings', result.warnings],
      ['Errors', result.errors],
    ];
    const listed = (title: string, lines: string[] | undefined) => (lines && lines.length > 0 ? `\n\n**${title}**\n\n${lines.map((line) => `- ${markdownEscape(line)}`).join('\n')}` : '');
    const unread = result.messagesUnread ? `\n\nVelero's messages could not be read: ${result.messagesUnread}` : '';
    return `Velero restore '${result.restore}' on cluster '${result.cluster}': ${result.phase}.\n\n${markdownTable(['', ''], rows)}${listed('Errors', result.messages?.errors)}${listed('Warnings', result.messages?.warnings)}${unread}`;
  },
});
