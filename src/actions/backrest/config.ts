/**
 * Backrest's `config.json`, as Backrest v1.x writes it (protojson of `proto/v1/config.proto`: camelCase
 * names, enums by name, zero values left out). Only what Lifeboat reads is checked; fields a newer
 * Backrest adds pass, but a format version past the ones known here is refused rather than guessed at.
 * The repositories' passwords and environment values are secrets: they stay in this structure and go
 * to restic only, never into a message (zod's messages here never quote a value).
 */
import * as z from 'zod';
import { ValidationError, type Problem } from '../../core/errors';

/** Config versions whose repos and plans read as below (Backrest 1.0 wrote 3; v1.14 writes 4; later ones add identity keys). */
const KNOWN_VERSIONS = { oldest: 3, newest: 6 } as const;

const ENV_ASSIGNMENT = /^([A-Za-z_][A-Za-z0-9_]*)=/;

const text = z.string().refine((value) => !value.includes('\0'), 'cannot hold a NUL byte');
const id = text.min(1, 'is empty');
const count = z.number().int().min(0);
/** An enum of the proto: protojson writes its name, a hand-written file may hold its number. */
const enumValue = z.union([z.string(), z.number().int()]);

const schedule = z.looseObject({
  disabled: z.boolean().optional(),
  cron: text.optional(),
  maxFrequencyDays: count.optional(),
  maxFrequencyHours: count.optional(),
  clock: enumValue.optional(),
});

const retention = z.looseObject({
  policyKeepLastN: count.optional(),
  policyTimeBucketed: z
    .looseObject({ hourly: count.optional(), daily: count.optional(), weekly: count.optional(), monthly: count.optional(), yearly: count.optional(), keepLastN: count.optional() })
    .optional(),
  policyKeepAll: z.boolean().optional(),
});

/** A hook: its conditions, what happens when it fails, and one `action…` field (command, webhook, …) whose contents are never read. */
const hook = z.looseObject({
  conditions: z.array(enumValue).default([]),
  onError: enumValue.optional(),
});

const repo = z.looseObject({
  id,
  uri: id,
  password: z.string().default(''),
  env: z.array(z.string().regex(ENV_ASSIGNMENT, 'expected NAME=value')).default([]),
  flags: z.array(text).default([]),
  hooks: z.array(hook).default([]),
});

const plan = z.looseObject({
  id,
  repo: id,
  paths: z.array(text).default([]),
  excludes: z.array(text).default([]),
  iexcludes: z.array(text).default([]),
  schedule: schedule.optional(),
  retention: retention.optional(),
  hooks: z.array(hook).default([]),
  backup_flags: z.array(text).default([]),
});

const backrestConfig = z.looseObject({
  version: z.number({ error: 'is missing: this is not a Backrest config.json (Backrest writes a format version)' }).int(),
  modno: z.number().int().optional(),
  instance: text.default(''),
  repos: z.array(repo).default([]),
  plans: z.array(plan).default([]),
});

export type BackrestConfig = z.output<typeof backrestConfig>;
export type BackrestRepo = BackrestConfig['repos'][number];
export type BackrestPlan = BackrestConfig['plans'][number];
export type BackrestSchedule = z.output<typeof schedule>;
export type BackrestRetention = z.output<typeof retention>;
export type BackrestHook = z.output<typeof hook>;

function fieldOf(path: readonly PropertyKey[]): string {
  return path.reduce<string>((field, key) => (typeof key === 'number' ? `${field}[${key}]` : field ? `${field}.${String(key)}` : String(key)), '');
}

/** The checked config; `shownAs` names the file (`nas:/opt/backrest/config.json`) in every error. */
export function parseBackrestConfig(source: string, shownAs: string): BackrestConfig {
  let json: unknown;
  try {
    json = JSON.parse(source);
  } catch (error) {
    // The parser's message quotes the text around the fault, which may be a password: only the place is told.
    const position = /position (\d+)/.exec((error as Error).message)?.[1];
    const line = position === undefined ? undefined : source.slice(0, Number(position)).split('\n').length;
    throw new ValidationError([{ file: shownAs, ...(line === undefined ? {} : { line }), message: 'not JSON: a Backrest config.json is a JSON object' }]);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new ValidationError([{ file: shownAs, message: 'not a Backrest config: expected a JSON object with version, instance, repos and plans' }]);
  const parsed = backrestConfig.safeParse(json);
  if (!parsed.success) {
    throw new ValidationError(parsed.error.issues.slice(0, 10).map((issue): Problem => ({ file: shownAs, field: fieldOf(issue.path), message: issue.message })));
  }
  const config = parsed.data;
  if (config.version > KNOWN_VERSIONS.newest) {
    throw new ValidationError([{ file: shownAs, field: 'version', message: `format version ${config.version} is newer than the ones Lifeboat reads (${KNOWN_VERSIONS.oldest} to ${KNOWN_VERSIONS.newest}); its repos and plans may mean something else` }]);
  }
  if (config.version < KNOWN_VERSIONS.oldest) {
    throw new ValidationError([{ file: shownAs, field: 'version', message: `format version ${config.version} predates Backrest 1.0; open it in a current Backrest once, which migrates it` }]);
  }
  checkReferences(config, shownAs);
  return config;
}

function checkReferences(config: BackrestConfig, shownAs: string): void {
  const problems: Problem[] = [];
  const repoIds = new Set<string>();
  config.repos.forEach((entry, index) => {
    if (repoIds.has(entry.id)) problems.push({ file: shownAs, field: `repos[${index}].id`, message: 'a second repo has this id' });
    repoIds.add(entry.id);
  });
  const planIds = new Set<string>();
  config.plans.forEach((entry, index) => {
    if (planIds.has(entry.id)) problems.push({ file: shownAs, field: `plans[${index}].id`, message: 'a second plan has this id' });
    planIds.add(entry.id);
    if (!repoIds.has(entry.repo)) problems.push({ file: shownAs, field: `plans[${index}].repo`, message: `names no repo of \`repos\` (it has ${[...repoIds].map((known) => JSON.stringify(known)).join(', ') || 'none'})` });
  });
  if (problems.length > 0) throw new ValidationError(problems);
}

/** A repo's `env` as variables; Backrest's `${VAR}` references to its own environment are kept as written. */
export function repoEnvironment(entry: BackrestRepo): Record<string, string> {
  const env: Record<string, string> = {};
  for (const assignment of entry.env) {
    const name = ENV_ASSIGNMENT.exec(assignment)?.[1] as string;
    env[name] = assignment.slice(name.length + 1);
  }
  return env;
}

/** The names of a repo's environment variables: what may be shown of it. */
export function repoEnvironmentNames(entry: BackrestRepo): string[] {
  return Object.keys(repoEnvironment(entry));
}
