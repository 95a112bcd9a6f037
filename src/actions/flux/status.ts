import * as z from 'zod';
import { defineAction } from '../../core/actions/spec';
import { markdownTable } from '../../core/render';
import { clusterParam, kubeClientFor } from '../clusters/target';
import { kustomizationId, kustomizationState, listKustomizations, type KustomizationState } from './kustomizations';
import { fluxNamespaceParam } from './target';

const fluxStatusParams = z
  .object({
    cluster: clusterParam,
    namespace: fluxNamespaceParam.optional().describe('Only the Kustomizations of this namespace; every namespace when left out.'),
  })
  .strict();

export interface FluxStatusResult {
  cluster: string;
  /** The namespace listed; null for every namespace. */
  namespace: string | null;
  kustomizations: KustomizationState[];
  /** One line per suspended Kustomization and per one that is not Ready. */
  warnings: string[];
}

/** What needs a person's eye: a forgotten suspend keeps Git's changes (and fixes) out of the cluster. */
export function kustomizationWarnings(states: readonly KustomizationState[]): string[] {
  return states.flatMap((state) => {
    const id = kustomizationId(state);
    if (state.suspended) return [`${id} is suspended: Flux applies none of its changes until it is resumed (flux.resume)`];
    if (state.ready !== 'True') return [`${id} is not Ready: ${[state.reason, state.message].filter(Boolean).join(': ') || state.ready}`];
    return [];
  });
}

export function kustomizationTable(states: readonly KustomizationState[]): string {
  return markdownTable(
    ['Kustomization', 'Ready', 'Suspended', 'Revision', 'Message'],
    states.map((state) => [kustomizationId(state), state.ready, state.suspended ? 'yes' : 'no', state.revision ?? '', state.message ?? '']),
  );
}

export const fluxStatus = defineAction({
  id: 'flux.status',
  title: 'Flux Kustomizations',
  description:
    'Lists the Flux Kustomizations of a cluster (every namespace, or one) with their Ready condition, the revision applied and whether they are suspended, as `flux get kustomizations` does. A suspended Kustomization is a warning: a suspend forgotten after a restore keeps every later change in Git out of the cluster.',
  params: fluxStatusParams,
  destructive: false,
  readOnly: true,
  async plan(params) {
    const where = params.namespace === undefined ? 'every namespace' : `namespace ${params.namespace}`;
    return { summary: `List the Flux Kustomizations of cluster '${params.cluster}' in ${where}`, operations: [{ kind: 'read', target: `cluster ${params.cluster}`, detail: `Kustomizations in ${where}` }], destructive: false };
  },
  async run(params, ctx): Promise<FluxStatusResult> {
    const kube = await kubeClientFor(ctx, params.cluster);
    const kustomizations = (await listKustomizations(kube, params.namespace)).map(kustomizationState);
    const warnings = kustomizationWarnings(kustomizations);
    for (const warning of warnings) ctx.log.warn(warning);
    return { cluster: params.cluster, namespace: params.namespace ?? null, kustomizations, warnings };
  },
  render(result: FluxStatusResult) {
    const where = result.namespace === null ? 'all namespaces' : `namespace ${result.namespace}`;
    if (result.kustomizations.length === 0) return `No Flux Kustomizations on cluster '${result.cluster}' in ${where}.`;
    const suspended = result.kustomizations.filter((state) => state.suspended).length;
    const ready = result.kustomizations.filter((state) => state.ready === 'True' && !state.suspended).length;
    const summary = `${ready} of ${result.kustomizations.length} Kustomizations on cluster '${result.cluster}' (${where}) are Ready${suspended > 0 ? `, ${suspended} suspended` : ''}.`;
    const warnings = result.warnings.map((warning) => `- ⚠ ${warning}`).join('\n');
    return [summary, kustomizationTable(result.kustomizations), ...(warnings ? [`**Warnings**\n\n${warnings}`] : [])].join('\n\n');
  },
});
