import * as z from 'zod';
import { defineAction, type ActionContext } from '../../core/actions/spec';
import { markdownTable, printable } from '../../core/render';
import { describeHooks } from './describe';
import { checkBackrestPlans, type BackrestPlansResult } from './report';
import type { BackrestSource } from './source';

const text = z.string().min(1).refine((value) => !value.includes('\0'), 'cannot hold a NUL byte');

const plansParams = z
  .object({
    backrest: text.optional().describe('A Backrest installation of `backrest:` in lifeboat.yaml.'),
    config: text.optional().describe("Backrest's config.json, when not named through `backrest`: a path here (relative to the workspace), or on `host`."),
    host: text.optional().describe('The host Backrest runs on, with `config`: config.json is read there over SFTP and restic runs there.'),
    snapshots: z.boolean().default(true).describe("Read each plan's snapshots from its repo (restic snapshots) for its last snapshot's age; false reads config.json only."),
    restic: text.optional().describe('The restic binary where restic runs; `restic` by default (or the installation\'s `restic` in lifeboat.yaml).'),
    graceMinutes: z.number().min(0).default(60).describe('How long a backup may take after it was due before the plan counts as stale.'),
    failOnStale: z.boolean().default(false).describe('Fail when a scheduled plan is stale, has no snapshot, or its repo could not be read.'),
  })
  .strict()
  .refine((params) => (params.backrest === undefined) !== (params.config === undefined), { message: 'give either backrest (an installation of lifeboat.yaml) or config (the path of its config.json)', path: ['config'] })
  .refine((params) => params.backrest === undefined || params.host === undefined, { message: 'host comes from the installation in lifeboat.yaml; give it only with config', path: ['host'] });

/** States of a scheduled plan a person should look at. */
const NEEDS_ATTENTION: ReadonlySet<string> = new Set(['stale', 'no snapshot', 'failed', 'unknown']);

type PlansParams = z.output<typeof plansParams>;

/** The config.json, host and restic binary of the parameters, from the inventory when named through `backrest`. */
export function backrestSourceOf(params: Pick<PlansParams, 'backrest' | 'config' | 'host' | 'restic'>, ctx: Pick<ActionContext, 'inventory'>): BackrestSource & { restic: string } {
  if (params.backrest !== undefined) {
    const entry = ctx.inventory.backrest?.[params.backrest];
    if (!entry) throw new Error(`no Backrest installation '${params.backrest}' under \`backrest:\` in lifeboat.yaml`);
    return { config: entry.config, ...(entry.host ? { host: entry.host } : {}), restic: params.restic ?? entry.restic ?? 'restic' };
  }
  return { config: params.config as string, ...(params.host ? { host: params.host } : {}), restic: params.restic ?? 'restic' };
}

function renderPlans(result: BackrestPlansResult): string {
  const header = `Backrest ${result.instance ? `instance ${printable(result.instance)}` : 'config'} (${printable(result.config)}, format ${result.version}): ${result.plans.length} plan(s) in ${result.repos.length} repo(s)${result.restic ? `; snapshots read by ${printable(result.restic)}` : ''}.`;
  if (result.plans.length === 0) return `${header}\n\n${result.inventory}`;
  const rows = result.plans.map((plan) => [
    printable(plan.id),
    printable(plan.repo.id),
    plan.paths.map(printable).join(', '),
    printable(plan.schedule),
    printable(plan.retention),
    printable(describeHooks(plan.hooks)),
    plan.lastSnapshot ? `${plan.lastSnapshot.shortId} (${plan.lastSnapshot.age})` : '',
    plan.state,
  ]);
  const problems = result.plans.filter((plan) => NEEDS_ATTENTION.has(plan.state)).map((plan) => `- ${printable(plan.id)}: ${plan.state}, ${printable(plan.reason)}`);
  const flags = result.repos.flatMap((repo) => [
    ...(repo.hooks.length > 0 ? [`- repo ${printable(repo.id)} hooks: ${printable(describeHooks(repo.hooks))}`] : []),
    ...(repo.notApplied.length > 0 ? [`- repo ${printable(repo.id)}: not given to restic here: ${repo.notApplied.map(printable).join(', ')}`] : []),
  ]);
  return [header, '', markdownTable(['plan', 'repo', 'paths', 'schedule', 'retention', 'hooks', 'last snapshot', 'state'], rows), ...(problems.length > 0 ? ['', ...problems] : []), ...(flags.length > 0 ? ['', ...flags] : []), '', 'For lifeboat.yaml:', '', '```yaml', result.inventory.trimEnd(), '```'].join('\n');
}

export const backrestPlans = defineAction({
  id: 'backrest.plans',
  title: 'Show Backrest plans',
  description:
    "Reads a Backrest config.json (a file here, or on an SSH host) and shows its plans: repo, paths, excludes, schedule (for cron, when it was last due), retention and hooks (kind and condition only), with each plan's last snapshot and its age from the repo (restic, run where Backrest runs it) and whether that is older than the schedule allows; plus the `repositories:` entries for lifeboat.yaml. Repo passwords and environment values go to restic only.",
  params: plansParams,
  destructive: false,
  readOnly: true,
  async plan(params, ctx) {
    const source = backrestSourceOf(params, ctx);
    const where = source.host ? `${source.host}:${source.config}` : source.config;
    return {
      summary: `would read the Backrest config ${where}${params.snapshots ? ' and list the snapshots of its repos' : ''}`,
      operations: [{ kind: 'read', target: where }, ...(params.snapshots ? [{ kind: 'read' as const, target: `the repos of ${where}`, detail: `restic snapshots${source.host ? ` on host ${source.host}` : ''}` }] : [])],
      destructive: false,
    };
  },
  async run(params, ctx): Promise<BackrestPlansResult> {
    const source = backrestSourceOf(params, ctx);
    const result = await checkBackrestPlans(ctx, source, { snapshots: params.snapshots, restic: source.restic, graceMinutes: params.graceMinutes });
    const behind = result.plans.filter((plan) => NEEDS_ATTENTION.has(plan.state));
    if (params.failOnStale && behind.length > 0) {
      throw new Error(`${behind.length} of ${result.plans.length} Backrest plan(s) of ${printable(result.config)} are behind their schedule: ${behind.map((plan) => `${printable(plan.id)} (${plan.state}: ${printable(plan.reason)})`).join('; ')}`);
    }
    return result;
  },
  render: renderPlans,
});
