import * as z from 'zod';
import { SECRET_REFERENCE } from '../secrets';

const secretReference = z
  .string()
  .regex(SECRET_REFERENCE, 'expected a secret reference such as secret:NAME (secrets are never written in lifeboat.yaml)')
  .describe('A secret reference, secret:NAME; set it with "Lifeboat: Set Secret…" or LIFEBOAT_SECRET_<NAME> on the CLI.');

const nonEmpty = z.string().trim().min(1);
const port = z.number().int().min(1).max(65535);
const keep = z.number().int().positive().describe('Retention: how many of the newest backups to keep; older ones are deleted after a verified new one.');
const tls = z
  .object({ insecure: z.boolean().default(false).describe('Skip TLS certificate verification. Shown as a warning wherever this target appears.') })
  .strict()
  .describe('TLS settings; certificates are verified unless `insecure: true`.');

const sshHost = z
  .object({
    host: nonEmpty.optional().describe('Host name, address or ~/.ssh/config alias; the entry name when left out.'),
    user: nonEmpty.optional().describe('Remote user; ~/.ssh/config, then the local user name, when left out.'),
    port: port.optional().describe('SSH port; ~/.ssh/config, then 22, when left out.'),
    identityFile: nonEmpty.optional().describe('Private key file (OpenSSH format); tried after ssh-agent.'),
    proxyJump: nonEmpty.optional().describe('Jump host(s), as in ssh -J: [user@]host[:port][,…].'),
    knownHosts: nonEmpty.optional().describe('known_hosts file to verify the host key against; ~/.ssh/known_hosts when left out.'),
    connectTimeoutSeconds: z.number().positive().optional().describe('How long connecting may take; 20 s when left out.'),
  })
  .strict();

const cluster = z
  .object({
    kubeconfig: nonEmpty.optional().describe('Kubeconfig file; KUBECONFIG or ~/.kube/config when left out.'),
    context: nonEmpty.optional().describe('Kubeconfig context; the current context when left out.'),
    inCluster: z
      .literal(true)
      .optional()
      .describe("The cluster Lifeboat runs in, reached with its pod's service account (a runbook run by a CronJob); no kubeconfig."),
  })
  .strict()
  .refine((entry) => !entry.inCluster || (entry.kubeconfig === undefined && entry.context === undefined), {
    message: '`inCluster: true` uses the pod\'s service account: leave out `kubeconfig` and `context`',
    path: ['inCluster'],
  });

const frigateAuth = z.union([
  z.object({ username: nonEmpty, password: secretReference }).strict(),
  z.object({ token: secretReference.describe('Bearer token.') }).strict(),
]);

const frigateFiles = z.union([
  z
    .object({
      cluster: nonEmpty.describe('Name of a cluster in `clusters:`.'),
      namespace: nonEmpty.default('frigate'),
      labelSelector: nonEmpty.default('app.kubernetes.io/name=frigate'),
      container: nonEmpty.optional(),
    })
    .strict(),
  z.object({ host: nonEmpty.describe('Name of a host in `hosts:`.'), path: nonEmpty.describe('Frigate media folder on that host.') }).strict(),
]);

const locationNames = z.array(nonEmpty).min(1);

const frigateBackups = z
  .object({
    faces: locationNames
      .optional()
      .describe('Locations (names under `locations:`) that hold this instance\'s face backups; the Backups view binds their archives to this instance and the status bar watches the newest. When no instance names any, a location called `frigate-faces` is the face backup location.'),
    recordings: locationNames
      .optional()
      .describe('Locations with a `host` and `path` that hold this instance\'s recordings backups (camera/day/hour folders); the Backups view lists their cameras and days under the instance.'),
  })
  .strict();

const frigate = z
  .object({
    url: z.url().describe('Frigate URL, e.g. https://frigate.lan:8971.'),
    auth: frigateAuth.optional(),
    tls: tls.optional(),
    files: frigateFiles.optional().describe('Where Frigate keeps its files, for byte-exact backups: its pod, or a host path.'),
    timeoutSeconds: z.number().positive().optional().describe('How long a request may wait for an answer, or for the next bytes of one; 30 s when left out.'),
    backups: frigateBackups.optional().describe('Where this instance\'s backups are kept, by location name.'),
  })
  .strict();

const s3Store = z
  .object({
    endpoint: z.url().optional().describe('S3 endpoint for Garage, SeaweedFS, MinIO …; AWS when left out.'),
    region: nonEmpty.default('us-east-1'),
    bucket: nonEmpty,
    pathStyle: z.boolean().optional().describe('Path-style addressing; on by default for custom endpoints.'),
    credentials: z
      .object({ accessKeyId: z.union([secretReference, nonEmpty]), secretAccessKey: secretReference })
      .strict()
      .optional()
      .describe('When left out: the AWS credential chain (environment, profiles).'),
    profile: nonEmpty.optional().describe('AWS profile of the credential chain.'),
    tls: tls.optional(),
    caFile: nonEmpty.optional().describe('PEM file with the CA certificate of a self-signed or private-CA endpoint (for restic run on a host, a path on that host).'),
  })
  .strict();

const resticRepository = z
  .object({
    repository: nonEmpty.describe('restic repository: a path, sftp:…, s3:… or rest:… URL. In sftp:NAME:/path, a NAME of `hosts:` is reached with that host\'s SSH settings (port, user, key, known_hosts).'),
    password: secretReference,
    store: nonEmpty.optional().describe('Name of an S3 store in `stores:` whose credentials the repository uses.'),
    host: nonEmpty.optional().describe('Name of a host in `hosts:` where restic runs, for repositories reached from there.'),
  })
  .strict();

const backupServer = z
  .object({
    url: z.url().describe('Proxmox Backup Server URL, e.g. https://pbs.lan:8007.'),
    datastore: nonEmpty,
    tokenId: nonEmpty.describe('API token id, user@realm!token.'),
    tokenSecret: secretReference,
    fingerprint: z
      .string()
      .regex(/^([0-9a-fA-F]{2}:){31}[0-9a-fA-F]{2}$/, 'expected a SHA-256 fingerprint aa:bb:…')
      .optional()
      .describe("SHA-256 fingerprint of the server's certificate, as PBS shows it: the API token is sent only to that certificate. Needed for PBS's self-signed certificate; `tls.insecure` is refused for PBS."),
    tls: tls.optional(),
  })
  .strict();

const rcloneRemote = z.union([
  z
    .object({
      type: nonEmpty.describe('rclone backend: drive, s3, sftp, b2, …'),
      options: z
        .record(z.string().regex(/^[a-z0-9_]+$/, 'expected an rclone option name such as client_id'), z.string())
        .default({})
        .describe('Backend options by their rclone.conf names; a value may be secret:NAME.'),
      caFile: nonEmpty.optional().describe('PEM file with the CA of a self-signed or private-CA endpoint.'),
    })
    .strict(),
  z.object({ store: nonEmpty.describe('Name of an S3 store in `stores:`.'), caFile: nonEmpty.optional().describe("PEM file with the CA of a self-signed or private-CA endpoint; the store's `caFile` when left out.") }).strict(),
]);

export const endpointEntry = z
  .object({
    url: z.url().describe('URL to request (GET), e.g. http://10.20.0.103:30188.'),
    expect: z.union([z.int().min(100).max(599), z.array(z.int().min(100).max(599)).min(1)]).default(200).describe('The status (or statuses) a healthy endpoint answers, e.g. 403 for an S3 API asked without credentials.'),
    timeoutSeconds: z.number().positive().max(300).default(10).describe('How long one attempt may wait for the answer.'),
    fingerprint: z
      .string()
      .regex(/^([0-9a-fA-F]{2}:?){31}[0-9a-fA-F]{2}$/, 'expected a SHA-256 certificate fingerprint aa:bb:…')
      .optional()
      .describe("SHA-256 fingerprint of a self-signed certificate: the endpoint is trusted when it presents exactly this certificate."),
    tls: tls.optional(),
  })
  .strict();

const location = z.union([
  z.object({ path: nonEmpty.describe('Local folder; relative to the workspace.'), keep: keep.optional() }).strict(),
  z.object({ host: nonEmpty.describe('Name of a host in `hosts:`.'), path: nonEmpty.describe('Folder on that host.'), keep: keep.optional() }).strict(),
  z.object({ store: nonEmpty.describe('Name of an S3 store in `stores:`.'), prefix: z.string().default(''), keep: keep.optional() }).strict(),
]);

const backrestInstance = z
  .object({
    config: nonEmpty.describe("Backrest's config.json: a path on `host`, or here (relative to the workspace) without one."),
    host: nonEmpty.optional().describe('Name of a host in `hosts:` Backrest runs on: its config.json is read there over SFTP and restic runs there, as Backrest runs it.'),
    restic: nonEmpty.optional().describe('The restic binary where restic runs (Backrest downloads its own, e.g. /opt/backrest/restic); `restic` on the PATH by default.'),
  })
  .strict();

const section = <Entry extends z.ZodType>(entry: Entry, description: string) => z.record(z.string(), entry).optional().describe(description);

/** `lifeboat.yaml`: every target a runbook can name, by name. */
export const inventorySchema = z
  .object({
    $schema: z.string().optional(),
    hosts: section(sshHost, 'SSH hosts, by name.'),
    clusters: section(cluster, 'Kubernetes clusters, by name.'),
    frigate: section(frigate, 'Frigate instances, by name.'),
    stores: section(s3Store, 'S3 buckets, by name.'),
    repositories: section(resticRepository, 'restic repositories, by name.'),
    backrest: section(backrestInstance, 'Backrest installations, by name: where their config.json is, to show their plans and snapshot ages.'),
    backupServers: section(backupServer, 'Proxmox Backup Servers, by name.'),
    locations: section(location, 'Backup locations: a local `path`, a `host` and `path`, or a `store` and `prefix`.'),
    rcloneRemotes: section(rcloneRemote, 'rclone remotes, by the name paths use (`gdrive:BadrBackups`): a backend `type` with its `options`, or an S3 store of `stores:`. Remotes of the user\'s rclone.conf need no entry.'),
    endpoints: section(endpointEntry, 'HTTP(S) endpoints that http.check checks, with the status each answers when healthy.'),
  })
  .strict();

export type InventoryFile = z.output<typeof inventorySchema>;
export type SshHostEntry = z.output<typeof sshHost>;
export type BackupLocationEntry = z.output<typeof location>;
export type RcloneRemoteEntry = z.output<typeof rcloneRemote>;
export type EndpointEntry = z.output<typeof endpointEntry>;
export type BackrestInstanceEntry = z.output<typeof backrestInstance>;
