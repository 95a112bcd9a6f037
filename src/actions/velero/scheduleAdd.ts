import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { stringify } from 'yaml';
import { z } from 'zod';
import { FileExistsError, pathExists, unlinkIfPresent, writeFileAtomically } from '../../core/atomicFiles';
import { defineAction, type ActionContext } from '../../core/actions/spec';
import { errorMessage } from '../../core/errors';
import { clusterParam } from '../clusters/target';
import { isInsideOrEqual, resolveUserPath } from '../paths';
import { addKustomizationResource, kustomizationResources } from './kustomizationResources';
import { veleroNamespaceParam } from './resources';

/** Where a Flux repository laid out like the usual home-ops ones keeps Velero's own kustomization. */
const DEFAULT_FOLDER = 'kubernetes/apps/velero/velero/app';
const dnsLabel = z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'a Kubernetes name (lowercase letters, digits and -, at most 63)');
const command = z.array(z.string().min(1)).min(1).describe('The program and its arguments, run in the container by Velero (not a shell string).');

const execHooks = z
  .object({
    container: dnsLabel.describe('The container the commands run in.'),
    labelSelector: z.record(z.string(), z.string()).optional().describe('Labels of the pods the hooks run in (matchLabels); every pod of the namespaces when left out.'),
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

interface SchedulePaths {
  folder: string;
  file: string;
  kustomization: string;
  /** The entry in `resources:`, relative to the kustomization. */
  entry: string;
}

function schedulePaths(params: ScheduleAddParams, ctx: ActionContext): SchedulePaths {
  const folder = resolveUserPath(params.folder, ctx.workspaceDir);
  if (!isInsideOrEqual(path.resolve(ctx.workspaceDir), folder)) throw new Error(`\`folder\`: ${params.folder} is outside the workspace; the GitOps repository is the workspace's`);
  const entry = `./schedules/${params.app}-schedule.yaml`;
  return { folder, file: path.join(folder, entry), kustomization: path.join(folder, 'kustomization.yaml'), entry };
}

/** Reads and checks everything before anything is written: the new kustomization text, or a clear refusal. */
async function prepare(params: ScheduleAddParams, ctx: ActionContext): Promise<{ paths: SchedulePaths; yaml: string; kustomization: string; listed: boolean }> {
  if (!ctx.inventory.clusters?.[params.cluster]) throw new Error(`\`cluster\` names '${params.cluster}', which is not under \`clusters:\` in lifeboat.yaml`);
  const paths = schedulePaths(params, ctx);
  const relative = (file: string) => path.relative(ctx.workspaceDir, file);
  if (await pathExists(paths.file)) throw new FileExistsError(relative(paths.file));
  const current = await readFile(paths.kustomization, 'utf8').catch((error: unknown) => {
    throw new Error(`\`folder\`: cannot read ${relative(paths.kustomization)} (${errorMessage(error)}); the schedule is listed there for Flux to apply it`);
  });
  try {
    const listed = kustomizationResources(current).includes(paths.entry);
    return { paths, yaml: scheduleManifest(params), kustomization: addKustomizationResource(current, paths.entry), listed };
  } catch (error) {
    throw new Error(`${relative(paths.kustomization)}: ${errorMessage(error)}`);
  }
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
      summary: `Add Velero Schedule '${params.name ?? `${params.app}-daily`}' (${params.schedule}) for cluster '${params.cluster}' in ${relative(prepared.paths.file)}`,
      operations: [
        { kind: 'create', target: relative(prepared.paths.file), detail: `\n${prepared.yaml}` },
        ...(prepared.listed ? [] : [{ kind: 'overwrite' as const, target: relative(prepared.paths.kustomization), detail: `adds \`- ${prepared.paths.entry}\` to resources:` }]),
      ],
      destructive: false,
    };
  },
  async run(params, ctx): Promise<ScheduleAddResult> {
    const prepared = await prepare(params, ctx);
    const { paths } = prepared;
    await mkdir(path.dirname(paths.file), { recursive: true });
    await writeFileAtomically(paths.file, prepared.yaml, { overwrite: false }).catch((error: unknown) => {
      throw error instanceof FileExistsError ? new FileExistsError(path.relative(ctx.workspaceDir, paths.file)) : error;
    });
    if (!prepared.listed) {
      try {
        await writeFileAtomically(paths.kustomization, prepared.kustomization, { overwrite: true });
      } catch (error) {
        await unlinkIfPresent(paths.file);
        throw error;
      }
    }
    return {
      cluster: params.cluster,
      schedule: params.name ?? `${params.app}-daily`,
      file: path.relative(ctx.workspaceDir, paths.file),
      kustomization: path.relative(ctx.workspaceDir, paths.kustomization),
      listed: !prepared.listed,
      yaml: prepared.yaml,
    };
  },
  render(result: ScheduleAddResult) {
    const listing = result.listed ? `listed in ${result.kustomization}` : `${result.kustomization} listed it already`;
    return `Schedule '${result.schedule}' written to ${result.file} (${listing}); commit and push it for Flux to apply it to cluster '${result.cluster}'.\n\n\`\`\`yaml\n${result.yaml}\`\`\``;
  },
});
