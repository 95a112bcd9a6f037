import path from 'node:path';
import { stringify } from 'yaml';
import * as z from 'zod';
import { defineAction, type ActionContext } from '../../core/actions/spec';
import { clusterParam } from '../clusters/target';
import { prepareGitOpsFile, writeGitOpsFile, type GitOpsFile } from '../gitopsFiles';
import { labelMap } from './create';
import { veleroNamespaceParam } from './resources';

/** Where a Flux repository laid out like the usual home-ops ones keeps Velero's own kustomization. */
const DEFAULT_FOLDER = 'kubernetes/apps/velero/velero/app';
const dnsLabel = z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'a Kubernetes name (lowercase letters, digits and -, at most 63)');
const command = z.array(z.string().min(1)).min(1).describe('The program and its arguments, run in the container by Velero (not a shell string).');

const execHooks = z
  .object({
    container: dnsLabel.describe('The container the commands run in.'),
    labelSelector: labelMap.optional().describe('Labels of the pods the hooks run in (matchLabels); every pod of the namespaces when left out.'),
    pre: command.optional().describe('Runs before the pod\'s volumes are backed up, e.g. a `FLUSH TABLES WITH READ LOCK`.'),
    post: command.optional().describe('Runs after, e.g. `UNLOCK TABLES`.'),
    onError: z.enum(['Continue', 'Fail']).default('Fail'),
    timeout: z.string().regex(/^(\d+h)?(\d+m)?(\d+s)?$/, 'a duration like 30s or 2m').default('30s'),
  })
  .strict()
  .refine((hooks) => hooks.pre !== undefined || hooks.post !== undefined, 'give `pre`, `post` or both');

export const scheduleAddParams = z
  .object({
    cluster: clusterParam,
    veleroNamespace: veleroNamespaceParam,
    app: dnsLabel.describe('The application; names the file (`schedules/APP-schedule.yaml`) and labels the backups.'),
    namespaces: z.array(dnsLabel).min(1).optional().describe('Namespaces backed up; the app\'s own when left out.'),
    name: dnsLabel.optional().describe('The Schedule\'s name; `APP-daily` when left out.'),
    schedule: z.string().regex(/^(@\w+|(\S+\s+){4}\S+)$/, 'a cron expression of five fields or a macro like @daily').default('0 2 * * *'),
    ttl: z.string().regex(/^(\d+h)?(\d+m)?(\d+s)?$/, 'a duration like 720h0m0s').refine((ttl) => ttl !== '', 'a duration like 720h0m0s').default('720h0m0s'),
    fsBackup: z.boolean().default(true).describe('Back up pod volumes with the node agent (`defaultVolumesToFsBackup`).'),
    includeClusterResources: z.boolean().default(true),
    storageLocation: dnsLabel.default('default'),
    hooks: execHooks.optional(),
    folder: z.string().min(1).default(DEFAULT_FOLDER).describe('The folder of Velero\'s kustomization.yaml in the GitOps repository, relative to the workspace.'),
  })
  .strict();

type ScheduleAddParams = z.output<typeof scheduleAddParams>;

export interface ScheduleAddResult {
  cluster: string;
  schedule: string;
  file: string;
  kustomization: string;
  /** False when kustomization.yaml listed the file already. */
  listed: boolean;
  yaml: string;
}

/** The Schedule manifest, laid out as the repository's other schedules are. */
export function scheduleManifest(params: ScheduleAddParams): string {
  const namespaces = params.namespaces ?? [params.app];
  const hooks = params.hooks;
  const exec = (commandLine: readonly string[]) => [{ exec: { container: hooks?.container, command: [...commandLine], onError: hooks?.onError, timeout: hooks?.timeout } }];
  const manifest = {
    apiVersion: 'velero.io/v1',
    kind: 'Schedule',
    metadata: {
      name: params.name ?? `${params.app}-daily`,
      namespace: params.veleroNamespace,
      labels: { 'app.kubernetes.io/name': 'velero', 'app.kubernetes.io/component': 'backup-schedule', 'app.kubernetes.io/part-of': params.app },
    },
    spec: {
      schedule: params.schedule,
      template: {
        includedNamespaces: namespaces,
        includedResources: ['*'],
        defaultVolumesToFsBackup: params.fsBackup,
        storageLocation: params.storageLocation,
        ttl: params.ttl,
        includeClusterResources: params.includeClusterResources,
        ...(hooks
          ? {
              hooks: {
                resources: [
                  {
                    name: `${params.app}-hooks`,
                    includedNamespaces: namespaces,
                    ...(hooks.labelSelector ? { labelSelector: { matchLabels: hooks.labelSelector } } : {}),
                    ...(hooks.pre ? { pre: exec(hooks.pre) } : {}),
                    ...(hooks.post ? { post: exec(hooks.post) } : {}),
                  },
                ],
              },
            }
          : {}),
        metadata: { labels: { 'app.kubernetes.io/name': params.app, 'backup-type': 'scheduled' } },
      },
      useOwnerReferencesInBackup: false,
    },
  };
  return `---\n${stringify(manifest, { lineWidth: 0 })}`;
}

/** Reads and checks everything before anything is written: the file and the kustomization edit, or a clear refusal. */
async function prepare(params: ScheduleAddParams, ctx: ActionContext): Promise<GitOpsFile> {
  if (!ctx.inventory.clusters?.[params.cluster]) throw new Error(`\`cluster\` names '${params.cluster}', which is not under \`clusters:\` in lifeboat.yaml`);
  return prepareGitOpsFile({ workspaceDir: ctx.workspaceDir, folder: params.folder, entry: `./schedules/${params.app}-schedule.yaml`, content: scheduleManifest(params), overwrite: false });
}

export const veleroScheduleAdd = defineAction({
  id: 'velero.schedule.add',
  title: 'Add Velero Schedule (GitOps)',
  description:
    'Writes a Velero Schedule into the GitOps repository (`schedules/APP-schedule.yaml` beside Velero\'s kustomization.yaml) and lists it in that kustomization.yaml, keeping the rest of the file byte for byte; Flux applies it on its next reconcile. Optional pre/post exec hooks (e.g. `FLUSH TABLES WITH READ LOCK` / `UNLOCK TABLES`). Never overwrites an existing schedule file.',
  params: scheduleAddParams,
  destructive: false,
  async plan(params, ctx) {
    const prepared = await prepare(params, ctx);
    const relative = (file: string) => path.relative(ctx.workspaceDir, file);
    return {
      summary: `Add Velero Schedule '${params.name ?? `${params.app}-daily`}' (${params.schedule}) for cluster '${params.cluster}' in ${relative(prepared.file)}`,
      operations: [
        { kind: 'create', target: relative(prepared.file), detail: `\n${prepared.content}` },
        ...(prepared.listed ? [] : [{ kind: 'overwrite' as const, target: relative(prepared.kustomization), detail: `adds \`- ${prepared.entry}\` to resources:` }]),
      ],
      destructive: false,
    };
  },
  async run(params, ctx): Promise<ScheduleAddResult> {
    const prepared = await prepare(params, ctx);
    await writeGitOpsFile(prepared, ctx.workspaceDir);
    return {
      cluster: params.cluster,
      schedule: params.name ?? `${params.app}-daily`,
      file: path.relative(ctx.workspaceDir, prepared.file),
      kustomization: path.relative(ctx.workspaceDir, prepared.kustomization),
      listed: !prepared.listed,
      yaml: prepared.content,
    };
  },
  render(result: ScheduleAddResult) {
    const listing = result.listed ? `listed in ${result.kustomization}` : `${result.kustomization} listed it already`;
    return `Schedule '${result.schedule}' written to ${result.file} (${listing}); commit and push it for Flux to apply it to cluster '${result.cluster}'.\n\n\`\`\`yaml\n${result.yaml}\`\`\``;
  },
});
