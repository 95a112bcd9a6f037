import { isDeepStrictEqual } from 'node:util';
import * as z from 'zod';
import type { S3Lifecycle } from '../../clients/s3';
import type { Disposable } from '../../core/actions/clients';
import { defineAction, type ActionContext, type PlannedOperation } from '../../core/actions/spec';
import { formatCount, markdownTable, printable } from '../../core/render';
import { s3StoreFor } from '../s3Stores';
import { CONTROL_CHARACTER, describeStoreTarget, s3PrefixParam, s3StoreParam, storeEntry } from './fields';

type LifecycleRule = S3Lifecycle['rules'][number];

/** A rule as a person reads it. */
export interface LifecycleRuleSummary {
  id: string;
  enabled: boolean;
  /** The key prefix the rule applies to; '' for the whole bucket; absent when its filter is more than a prefix (tags, sizes). */
  prefix?: string;
  /** The filter in words: `prefix frigate/snapshots/`, `whole bucket`, `prefix a/ and tag k=v`. */
  filter: string;
  /** Days after which current objects expire, when the rule expires them by age. */
  expirationDays?: number;
  /** What the rule does, in words. */
  actions: string;
}

function filterOf(rule: LifecycleRule): { prefix?: string; words: string } {
  const filter = rule.Filter;
  // Rule-level Prefix is the older form of the same filter; AWS still answers with it.
  const prefix = filter?.Prefix ?? (filter === undefined ? (rule.Prefix ?? '') : undefined);
  const extra = [
    ...(filter?.Tag ? [`tag ${filter.Tag.Key ?? ''}=${filter.Tag.Value ?? ''}`] : []),
    ...(filter?.And?.Prefix !== undefined ? [`prefix ${filter.And.Prefix}`] : []),
    ...(filter?.And?.Tags ?? []).map((tag) => `tag ${tag.Key ?? ''}=${tag.Value ?? ''}`),
    ...(filter?.ObjectSizeGreaterThan ?? filter?.And?.ObjectSizeGreaterThan) !== undefined ? [`larger than ${filter?.ObjectSizeGreaterThan ?? filter?.And?.ObjectSizeGreaterThan} bytes`] : [],
    ...(filter?.ObjectSizeLessThan ?? filter?.And?.ObjectSizeLessThan) !== undefined ? [`smaller than ${filter?.ObjectSizeLessThan ?? filter?.And?.ObjectSizeLessThan} bytes`] : [],
  ];
  if (extra.length > 0) return { words: [...(prefix ? [`prefix ${prefix}`] : []), ...extra].join(' and ') };
  const whole = prefix === undefined || prefix === '';
  return { prefix: prefix ?? '', words: whole ? 'whole bucket' : `prefix ${prefix}` };
}

function actionsOf(rule: LifecycleRule): string {
  const expiration = rule.Expiration;
  const parts = [
    ...(expiration?.Days !== undefined ? [`expire after ${formatCount(expiration.Days, 'day')}`] : []),
    ...(expiration?.Date !== undefined ? [`expire on ${expiration.Date.toISOString().slice(0, 10)}`] : []),
    ...(expiration?.ExpiredObjectDeleteMarker ? ['remove expired delete markers'] : []),
    ...(rule.Transitions ?? []).map((transition) => `move to ${transition.StorageClass ?? '?'} after ${transition.Days !== undefined ? formatCount(transition.Days, 'day') : (transition.Date?.toISOString().slice(0, 10) ?? '?')}`),
    ...(rule.NoncurrentVersionExpiration?.NoncurrentDays !== undefined ? [`expire old versions after ${formatCount(rule.NoncurrentVersionExpiration.NoncurrentDays, 'day')}`] : []),
    ...(rule.NoncurrentVersionTransitions ?? []).map((transition) => `move old versions to ${transition.StorageClass ?? '?'} after ${formatCount(transition.NoncurrentDays ?? 0, 'day')}`),
    ...(rule.AbortIncompleteMultipartUpload?.DaysAfterInitiation !== undefined ? [`abort unfinished uploads after ${formatCount(rule.AbortIncompleteMultipartUpload.DaysAfterInitiation, 'day')}`] : []),
  ];
  return parts.length > 0 ? parts.join('; ') : 'nothing';
}

export function summarizeRule(rule: LifecycleRule): LifecycleRuleSummary {
  const filter = filterOf(rule);
  return {
    id: rule.ID ?? '',
    enabled: rule.Status === 'Enabled',
    ...(filter.prefix === undefined ? {} : { prefix: filter.prefix }),
    filter: filter.words,
    ...(rule.Expiration?.Days !== undefined ? { expirationDays: rule.Expiration.Days } : {}),
    actions: actionsOf(rule),
  };
}

function describeRule(rule: LifecycleRuleSummary): string {
  return `rule ${printable(rule.id)} (${rule.enabled ? 'enabled' : 'disabled'}): ${printable(rule.filter)}: ${printable(rule.actions)}`;
}

function renderRules(rules: readonly LifecycleRuleSummary[]): string {
  return markdownTable(
    ['rule ID', 'status', 'applies to', 'actions'],
    rules.map((rule) => [printable(rule.id), rule.enabled ? 'Enabled' : 'Disabled', printable(rule.filter), printable(rule.actions)]),
  );
}

const ruleIdParam = z
  .string()
  .min(1)
  .max(255)
  .refine((id) => !CONTROL_CHARACTER.test(id), { message: 'a rule ID may not hold control characters' })
  .describe('The ID of the lifecycle rule (S3 allows up to 255 characters); the rule with this ID is added, replaced or removed, and the other rules stay as they are.');

/** The configuration a plan showed, so the run that follows it changes exactly what was shown. */
class PlannedLifecycle implements Disposable {
  constructor(
    readonly store: string,
    readonly lifecycle: S3Lifecycle,
  ) {}

  dispose(): void {}
}

/**
 * The bucket's configuration, read again for the run; refused when it is no longer the one the plan
 * showed (someone changed the rules meanwhile, and the confirmation was given for other ones).
 */
async function currentLifecycle(ctx: ActionContext, storeName: string): Promise<S3Lifecycle> {
  const store = await s3StoreFor(ctx, storeName);
  const current = await store.lifecycle(ctx.signal);
  const planned = ctx.handOver?.take(PlannedLifecycle);
  if (planned && planned.store === storeName && !isDeepStrictEqual(planned.lifecycle.rules, current.rules)) {
    throw new Error(`the lifecycle rules of ${describeStoreTarget(ctx, storeName)} changed after the plan was shown; nothing was written: run the step again to see the new plan`);
  }
  return current;
}

async function plannedLifecycle(ctx: ActionContext, storeName: string): Promise<S3Lifecycle> {
  const lifecycle = await (await s3StoreFor(ctx, storeName)).lifecycle(ctx.signal);
  ctx.handOver?.give(new PlannedLifecycle(storeName, lifecycle));
  return lifecycle;
}

function keptOperation(others: readonly LifecycleRule[]): PlannedOperation[] {
  if (others.length === 0) return [];
  return [{ kind: 'read', target: `${formatCount(others.length, 'other rule')} kept unchanged`, detail: others.map((rule) => printable(rule.ID ?? '(no ID)')).join(', ') }];
}

// ---- s3.lifecycle.get

const lifecycleGetParams = z.object({ store: s3StoreParam }).strict();

export interface LifecycleGetResult {
  store: string;
  bucket: string;
  rules: LifecycleRuleSummary[];
}

export const s3LifecycleGet = defineAction({
  id: 's3.lifecycle.get',
  title: 'Show S3 lifecycle rules',
  description: "Lists the lifecycle rules of an S3 store's bucket: each rule's ID, status, the prefix (or filter) it applies to, and what it does (expire after N days, move to another storage class, …).",
  params: lifecycleGetParams,
  destructive: false,
  readOnly: true,
  async plan(params, ctx) {
    return { summary: `Read the lifecycle rules of ${describeStoreTarget(ctx, params.store)}`, operations: [{ kind: 'read', target: describeStoreTarget(ctx, params.store) }], destructive: false };
  },
  async run(params, ctx): Promise<LifecycleGetResult> {
    const entry = storeEntry(ctx, params.store);
    const lifecycle = await (await s3StoreFor(ctx, params.store)).lifecycle(ctx.signal);
    return { store: params.store, bucket: entry.bucket, rules: lifecycle.rules.map(summarizeRule) };
  },
  render(result: LifecycleGetResult) {
    if (result.rules.length === 0) return `Bucket ${printable(result.bucket)} of store ${printable(result.store)} has no lifecycle rules: nothing expires by itself.`;
    return `Bucket ${printable(result.bucket)} of store ${printable(result.store)}: ${formatCount(result.rules.length, 'lifecycle rule')}.\n\n${renderRules(result.rules)}`;
  },
});

// ---- s3.lifecycle.set

const lifecycleSetParams = z
  .object({
    store: s3StoreParam,
    rule: ruleIdParam,
    prefix: s3PrefixParam.describe("The objects the rule expires: those whose key starts with this, e.g. `frigate/snapshots/`; '' is the whole bucket."),
    days: z.int().min(1).max(100_000).describe('Objects expire this many days after they were written.'),
    enabled: z.boolean().default(true).describe('Writes the rule disabled when false: kept, but not applied.'),
  })
  .strict();

type LifecycleSetParams = z.output<typeof lifecycleSetParams>;

export interface LifecycleSetResult {
  store: string;
  bucket: string;
  change: 'added' | 'replaced' | 'unchanged';
  rule: LifecycleRuleSummary;
  /** The rule of the same ID before, when one was replaced. */
  replaced?: LifecycleRuleSummary;
  /** The IDs of the bucket's other rules, written back unchanged. */
  kept: string[];
}

/**
 * The rule as it is written. A configuration whose other rules all use the older rule-level
 * `Prefix` gets the same form: S3 refuses a configuration that mixes the two.
 */
function expirationRule(params: LifecycleSetParams, others: readonly LifecycleRule[]): LifecycleRule {
  const older = others.length > 0 && others.every((rule) => rule.Filter === undefined && rule.Prefix !== undefined);
  return {
    ID: params.rule,
    Status: params.enabled ? 'Enabled' : 'Disabled',
    ...(older ? { Prefix: params.prefix } : { Filter: { Prefix: params.prefix } }),
    Expiration: { Days: params.days },
  };
}

interface LifecycleChange {
  next: S3Lifecycle;
  rule: LifecycleRule;
  existing?: LifecycleRule;
  others: LifecycleRule[];
}

function applyRule(params: LifecycleSetParams, lifecycle: S3Lifecycle): LifecycleChange {
  const others = lifecycle.rules.filter((rule) => rule.ID !== params.rule);
  const existing = lifecycle.rules.find((rule) => rule.ID === params.rule);
  const rule = expirationRule(params, others);
  // The rule keeps its place among the others.
  const rules = existing ? lifecycle.rules.map((candidate) => (candidate === existing ? rule : candidate)) : [...lifecycle.rules, rule];
  return { next: { ...lifecycle, rules }, rule, ...(existing ? { existing } : {}), others };
}

/** The same rule, whichever form of prefix it was written in. */
function sameRule(a: LifecycleRule, b: LifecycleRule): boolean {
  return isDeepStrictEqual(summarizeRule(a), summarizeRule(b));
}

export const s3LifecycleSet = defineAction({
  id: 's3.lifecycle.set',
  title: 'Set an S3 expiration rule',
  description:
    "Sets one lifecycle rule on an S3 store's bucket: objects under `prefix` expire `days` after they were written (as the snapshot mirror's cleanup does). Reads the bucket's rules, adds the rule or replaces the one with the same ID (`rule`), and writes them back: the other rules stay as they are. Replacing a different rule is destructive and is shown in the plan first.",
  params: lifecycleSetParams,
  destructive: true,
  async plan(params, ctx) {
    const target = describeStoreTarget(ctx, params.store);
    const change = applyRule(params, await plannedLifecycle(ctx, params.store));
    const wanted = describeRule(summarizeRule(change.rule));
    const operations: PlannedOperation[] = [];
    if (!change.existing) operations.push({ kind: 'create', target: wanted, detail: `on ${target}` });
    else if (sameRule(change.existing, change.rule)) operations.push({ kind: 'read', target: wanted, detail: 'already set: nothing is written' });
    else operations.push({ kind: 'overwrite', target: wanted, detail: `replaces ${describeRule(summarizeRule(change.existing))}` });
    operations.push(...keptOperation(change.others));
    const destructive = change.existing !== undefined && !sameRule(change.existing, change.rule);
    const verb = !change.existing ? 'Add' : destructive ? 'Replace' : 'Keep';
    return { summary: `${verb} lifecycle ${wanted} on ${target}`, operations, destructive };
  },
  async run(params, ctx): Promise<LifecycleSetResult> {
    const entry = storeEntry(ctx, params.store);
    const change = applyRule(params, await currentLifecycle(ctx, params.store));
    const unchanged = change.existing !== undefined && sameRule(change.existing, change.rule);
    if (!unchanged) await (await s3StoreFor(ctx, params.store)).setLifecycle(change.next, ctx.signal);
    return {
      store: params.store,
      bucket: entry.bucket,
      change: unchanged ? 'unchanged' : change.existing ? 'replaced' : 'added',
      rule: summarizeRule(change.rule),
      ...(change.existing && !unchanged ? { replaced: summarizeRule(change.existing) } : {}),
      kept: change.others.map((rule) => rule.ID ?? ''),
    };
  },
  render(result: LifecycleSetResult) {
    const what = result.change === 'unchanged' ? 'was already set' : result.change === 'replaced' ? `replaced ${describeRule(result.replaced as LifecycleRuleSummary)}` : 'was added';
    const kept = result.kept.length > 0 ? ` ${formatCount(result.kept.length, 'other rule')} kept unchanged: ${result.kept.map(printable).join(', ')}.` : '';
    return `Bucket ${printable(result.bucket)} of store ${printable(result.store)}: ${describeRule(result.rule)} ${what}.${kept}`;
  },
});

// ---- s3.lifecycle.remove

const lifecycleRemoveParams = z.object({ store: s3StoreParam, rule: ruleIdParam.describe('The ID of the lifecycle rule to remove; the other rules stay as they are.') }).strict();

export interface LifecycleRemoveResult {
  store: string;
  bucket: string;
  removed?: LifecycleRuleSummary;
  kept: string[];
}

export const s3LifecycleRemove = defineAction({
  id: 's3.lifecycle.remove',
  title: 'Remove an S3 lifecycle rule',
  description: "Removes one lifecycle rule, by its ID (`rule`), from an S3 store's bucket; the other rules are written back unchanged (the last rule removed deletes the bucket's lifecycle configuration). Destructive: the plan shows the rule first.",
  params: lifecycleRemoveParams,
  destructive: true,
  async plan(params, ctx) {
    const target = describeStoreTarget(ctx, params.store);
    const lifecycle = await plannedLifecycle(ctx, params.store);
    const existing = lifecycle.rules.find((rule) => rule.ID === params.rule);
    const others = lifecycle.rules.filter((rule) => rule.ID !== params.rule);
    if (!existing) return { summary: `No lifecycle rule ${printable(params.rule)} on ${target}: nothing to remove`, operations: keptOperation(others), destructive: false };
    return { summary: `Remove lifecycle ${describeRule(summarizeRule(existing))} from ${target}`, operations: [{ kind: 'delete', target: describeRule(summarizeRule(existing)) }, ...keptOperation(others)], destructive: true };
  },
  async run(params, ctx): Promise<LifecycleRemoveResult> {
    const entry = storeEntry(ctx, params.store);
    const lifecycle = await currentLifecycle(ctx, params.store);
    const existing = lifecycle.rules.find((rule) => rule.ID === params.rule);
    const others = lifecycle.rules.filter((rule) => rule.ID !== params.rule);
    if (existing) await (await s3StoreFor(ctx, params.store)).setLifecycle({ ...lifecycle, rules: others }, ctx.signal);
    return { store: params.store, bucket: entry.bucket, ...(existing ? { removed: summarizeRule(existing) } : {}), kept: others.map((rule) => rule.ID ?? '') };
  },
  render(result: LifecycleRemoveResult) {
    const what = result.removed ? `removed ${describeRule(result.removed)}` : 'had no such rule: nothing was removed';
    return `Bucket ${printable(result.bucket)} of store ${printable(result.store)}: ${what}. ${formatCount(result.kept.length, 'rule')} left.`;
  },
});
