import * as z from 'zod';
import type { KubeObject } from '../../clients/kube';
import { defineAction } from '../../core/actions/spec';
import { formatAge, markdownTable } from '../../core/render';
import { phaseOf, veleroObjectName, veleroTargetParams, VeleroCluster } from './resources';

/** A BackupStorageLocation as a person checks it: where it writes, and what Velero last found there. */
export interface LocationSummary {
  name: string;
  provider: string;
  /** `bucket/prefix`. */
  objectStorage: string;
  default: boolean;
  accessMode: string;
  /** `Available`, `Unavailable`, or absent before Velero first validated it. */
  phase?: string;
  lastValidationTime?: string;
  lastSyncedTime?: string;
  message?: string;
}

export function summarizeLocation(location: KubeObject): LocationSummary {
  const spec = location.spec ?? {};
  const status = location.status ?? {};
  const storage = (spec.objectStorage ?? {}) as Record<string, unknown>;
  const optional = { phase: phaseOf(location), lastValidationTime: status.lastValidationTime, lastSyncedTime: status.lastSyncedTime, message: status.message };
  return {
    name: location.metadata.name,
    provider: String(spec.provider ?? ''),
    objectStorage: [storage.bucket, storage.prefix].filter((part) => typeof part === 'string' && part !== '').join('/'),
    default: spec.default === true,
    accessMode: String(status.accessMode ?? spec.accessMode ?? 'ReadWrite'),
    ...(Object.fromEntries(Object.entries(optional).filter(([, value]) => typeof value === 'string' && value !== '')) as Partial<LocationSummary>),
  };
}

/** "validated 3 min ago", or that it never was. */
export function describeValidation(location: LocationSummary, now = new Date()): string {
  return location.lastValidationTime ? `validated ${formatAge(new Date(location.lastValidationTime), now)}` : 'not validated yet';
}

const locationsCheckParams = z
  .object({
    ...veleroTargetParams,
    location: veleroObjectName.optional().describe('Check only this BackupStorageLocation; all of them when left out.'),
  })
  .strict();

export interface LocationsCheckResult {
  cluster: string;
  veleroNamespace: string;
  locations: LocationSummary[];
}

export const veleroLocationsCheck = defineAction({
  id: 'velero.locations.check',
  title: 'Check Velero Backup Locations',
  description: "Checks a cluster's Velero BackupStorageLocations: each one's phase and when Velero last validated it. Fails when one is Unavailable, with Velero's message.",
  params: locationsCheckParams,
  destructive: false,
  readOnly: true,
  async plan(params) {
    const which = params.location ? `BackupStorageLocation ${params.location}` : 'the BackupStorageLocations';
    return { summary: `Check ${which} of Velero in cluster ${params.cluster}`, operations: [{ kind: 'verify', target: `cluster ${params.cluster}, namespace ${params.veleroNamespace}` }], destructive: false };
  },
  async run(params, ctx): Promise<LocationsCheckResult> {
    const velero = await VeleroCluster.connect(ctx, params);
    const objects = params.location ? [await velero.find('backupStorageLocation', params.location)] : await velero.locations();
    const locations = objects.map(summarizeLocation);
    const unavailable = locations.filter((location) => location.phase === 'Unavailable');
    if (unavailable.length > 0) {
      const reasons = unavailable.map((location) => `${location.name} (${location.objectStorage || 'no bucket'}, ${describeValidation(location)})${location.message ? `: ${location.message}` : ''}`);
      throw new Error(`Velero cannot use ${unavailable.length === 1 ? 'a backup storage location' : `${unavailable.length} backup storage locations`} in cluster ${params.cluster}: ${reasons.join('; ')}`);
    }
    return { cluster: params.cluster, veleroNamespace: params.veleroNamespace, locations };
  },
  render(result: LocationsCheckResult) {
    const rows = result.locations.map((location) => [
      location.name + (location.default ? ' (default)' : ''),
      location.phase ?? 'not validated yet',
      location.provider,
      location.objectStorage,
      location.accessMode,
      location.lastValidationTime ? describeValidation(location) : '',
      location.message ?? '',
    ]);
    return `Velero's backup storage locations in cluster ${result.cluster} are usable.\n\n${markdownTable(['Location', 'Phase', 'Provider', 'Bucket/prefix', 'Access', 'Last validation', 'Message'], rows)}`;
  },
});
