/**
 * The PostgreSQL database a `pg.*` action works on: a database in a pod, reached through exec with
 * the programs of the pod's image (`pg_dump`, `pg_restore`, `psql`) and the pod's own connection
 * environment, as `kubectl exec <cluster>-1 -c postgres -- pg_dump …` does in CloudNativePG's docs.
 */
import * as z from 'zod';
import { KubeError, PodCommandError, type KubeClient, type PodRef } from '../../clients/kube';
import type { ActionContext } from '../../core/actions/spec';
import { isCancellationError } from '../../core/errors';
import { printable } from '../../core/render';
import { cnpgObjectName } from '../cnpg/resources';
import { clusterParam, kubeClientFor } from '../clusters/target';
import { namespaceName } from '../velero/resources';

/** PostgreSQL keeps identifiers to NAMEDATALEN - 1 bytes; a longer name would silently name another database. */
const MAX_NAME_BYTES = 63;

export const databaseName = z
  .string()
  .min(1)
  .refine((name) => !name.includes('\0'), 'a database name cannot contain a NUL character')
  .refine((name) => Buffer.byteLength(name) <= MAX_NAME_BYTES, `PostgreSQL database names are at most ${MAX_NAME_BYTES} bytes`);

/** Where the database runs: a CloudNativePG Cluster's primary, or a pod by name. */
export const databasePodParams = {
  cluster: clusterParam,
  namespace: namespaceName.describe('The namespace of the database pod.'),
  clusterName: cnpgObjectName.optional().describe("A CloudNativePG Cluster: its primary instance's pod (labels `cnpg.io/cluster` and `cnpg.io/instanceRole=primary`) is used. Give this, or `pod`."),
  pod: cnpgObjectName.optional().describe('A pod running PostgreSQL, by name; for databases not run by CloudNativePG.'),
  container: z.string().min(1).optional().describe("The pod's container with PostgreSQL's programs; `postgres` for a CloudNativePG Cluster, else the pod's default container."),
  database: databaseName.describe('The database, by name.'),
};

export interface DatabasePodFields {
  cluster: string;
  namespace: string;
  clusterName?: string | undefined;
  pod?: string | undefined;
  container?: string | undefined;
  database: string;
}

/** Exactly one of `clusterName` and `pod`. */
export function checkPodChoice(params: { clusterName?: string | undefined; pod?: string | undefined }, issues: z.RefinementCtx): void {
  if ((params.clusterName === undefined) === (params.pod === undefined)) {
    issues.addIssue({ code: 'custom', path: ['clusterName'], message: 'give either `clusterName` (a CloudNativePG Cluster) or `pod`, not both or neither' });
  }
}

/** The container CloudNativePG runs PostgreSQL in. */
const CNPG_CONTAINER = 'postgres';

/** A value in a libpq connection string: single-quoted, with `\` and `'` escaped. */
export function conninfoValue(value: string): string {
  return `'${value.replace(/[\\']/g, (character) => `\\${character}`)}'`;
}

/**
 * `--dbname` with a connection string naming only the database: a bare name containing `=` or
 * starting with `postgresql://` would itself be read as a connection string.
 */
export function dbnameArgument(database: string): string {
  return `--dbname=dbname=${conninfoValue(database)}`;
}

/** What a failed program printed last (its stderr), as the error carries it. */
export function saidBy(error: PodCommandError): string {
  const status = `exited with status ${error.exitCode}`;
  const at = error.message.indexOf(status);
  return at < 0 ? error.message : error.message.slice(at + status.length).replace(/^:\s*/, '').trim();
}

export class DatabasePod {
  constructor(
    readonly kube: KubeClient,
    readonly ref: PodRef,
    readonly database: string,
    /** The inventory's name of the cluster. */
    readonly cluster: string,
  ) {}

  get description(): string {
    return `pod ${this.ref.namespace}/${this.ref.pod} of cluster ${this.cluster}`;
  }

  /** `database 'app' in pod db/pg-1 of cluster prod`, for messages. */
  get where(): string {
    return `database '${printable(this.database)}' in ${this.description}`;
  }

  static async open(params: DatabasePodFields, ctx: ActionContext): Promise<DatabasePod> {
    const kube = await kubeClientFor(ctx, params.cluster);
    if (params.pod !== undefined) {
      return new DatabasePod(kube, { namespace: params.namespace, pod: params.pod, ...(params.container ? { container: params.container } : {}) }, params.database, params.cluster);
    }
    const selector = `cnpg.io/cluster=${params.clusterName ?? ''},cnpg.io/instanceRole=primary`;
    const primary = await kube.findPod(params.namespace, selector).catch((error: unknown) => {
      if (error instanceof KubeError && error.failure === 'not-found') {
        throw new KubeError('not-found', `\`clusterName\`: no running primary of CloudNativePG Cluster '${params.clusterName ?? ''}' in namespace ${params.namespace} of cluster ${params.cluster} (no pod labelled ${selector})`, 404);
      }
      throw error;
    });
    return new DatabasePod(kube, { namespace: params.namespace, pod: primary.name, container: params.container ?? CNPG_CONTAINER }, params.database, params.cluster);
  }

  /**
   * The database's size on disk and its number of tables, read with psql; fails with a clear message
   * when the database does not exist or psql cannot reach it.
   */
  async survey(signal: AbortSignal): Promise<{ bytes: number; tables: number }> {
    const query = "SELECT pg_database_size(current_database()), (SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema'))";
    const output = await this.command('psql', ['psql', '--no-psqlrc', '--quiet', '--tuples-only', '--no-align', '--field-separator=,', dbnameArgument(this.database), '--command', query], signal);
    const [bytes, tables] = output.trim().split(',').map(Number);
    if (bytes === undefined || tables === undefined || Number.isNaN(bytes) || Number.isNaN(tables)) throw new Error(`psql in ${this.description} printed '${printable(output.trim())}' instead of the size of ${this.where}`);
    return { bytes, tables };
  }

  /** Runs a PostgreSQL program in the pod and returns its output, with its failure told as a sentence. */
  private async command(program: string, command: string[], signal: AbortSignal): Promise<string> {
    try {
      return await this.kube.execText({ ...this.ref, command, signal });
    } catch (error) {
      throw this.explain(program, error);
    }
  }

  /** A failure of a PostgreSQL program in the pod, said in terms of the database. */
  explain(program: string, error: unknown): unknown {
    if (isCancellationError(error) || !(error instanceof KubeError)) return error;
    if (error.failure === 'command' && !(error instanceof PodCommandError) && /executable file not found/.test(error.message)) {
      return new Error(`${this.description} has no \`${program}\`: name the container with PostgreSQL's programs in \`container\``);
    }
    if (!(error instanceof PodCommandError)) return error;
    const said = saidBy(error);
    if (/database ".*" does not exist/s.test(said)) return new Error(`\`database\`: there is no database '${printable(this.database)}' in ${this.description}`);
    return new Error(`${program} failed for ${this.where} (exit status ${error.exitCode})${said ? `: ${said}` : ''}`);
  }
}
