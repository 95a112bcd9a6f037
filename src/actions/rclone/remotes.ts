import { Rclone, s3Remote, type RcloneRemoteDefinition } from '../../clients/rclone';
import type { ActionContext } from '../../core/actions/spec';
import type { RcloneRemoteEntry } from '../../core/inventory/schema';
import { printable } from '../../core/render';
import { secretName } from '../../core/secrets';
import { resolveUserPath } from '../paths';

/**
 * rclone's own remote names (`[\w.@ -]`, fs/config/configmap), without a leading `-` or space. A
 * name with a `,` would carry connection-string options and a leading `:` an on-the-fly backend:
 * both would let a parameter configure a backend, so neither is a remote name here.
 */
const REMOTE_NAME = /^[\w.@][\w.@ -]*$/;

/** Where files are: a folder or file on this machine, or a path on an rclone remote. */
export type RclonePath = { kind: 'local'; path: string } | { kind: 'remote'; remote: string; path: string };

/**
 * Reads a path parameter as rclone does: `name:path` is on remote `name`; anything else is on this
 * machine, relative to the workspace, handed to rclone absolute (a local name such as `--delete` or
 * `a:b` then cannot be read as a flag or a remote). A `:` before the first `/` makes a remote path.
 */
export function parseRclonePath(text: string, field: string, workspaceDir: string): RclonePath {
  const colon = text.indexOf(':');
  const slash = text.indexOf('/');
  if (colon < 0 || (slash >= 0 && slash < colon)) return { kind: 'local', path: resolveUserPath(text, workspaceDir) };
  const remote = text.slice(0, colon);
  if (!REMOTE_NAME.test(remote)) {
    throw new Error(`\`${field}\`: '${printable(remote)}' is not an rclone remote name (letters, digits, _ . @ - and spaces); a local path with a ':' is written ./${printable(text)}`);
  }
  return { kind: 'remote', remote, path: text.slice(colon + 1) };
}

/** The path as rclone's command line takes it. */
export function rcloneArgument(location: RclonePath): string {
  return location.kind === 'local' ? location.path : `${location.remote}:${location.path}`;
}

/** The folder a path is in, as rclone names it; undefined for the root of a remote or of this machine. */
export function parentOf(location: RclonePath): { parent: RclonePath; name: string } | undefined {
  const trimmed = location.path.replace(/\/+$/, '');
  const slash = trimmed.lastIndexOf('/');
  const name = trimmed.slice(slash + 1);
  if (name === '') return undefined;
  const parentPath = slash < 0 ? '' : slash === 0 ? '/' : trimmed.slice(0, slash);
  return { parent: { ...location, path: parentPath }, name };
}

async function resolveOption(ctx: ActionContext, value: string): Promise<string> {
  const secret = secretName(value);
  return secret === undefined ? value : ctx.secrets.resolve(secret);
}

/** The definition of a remote declared in `rcloneRemotes:`, its secrets resolved. */
async function declaredRemote(ctx: ActionContext, name: string): Promise<{ definition: RcloneRemoteDefinition; caFile?: string }> {
  const entry = ctx.inventory.rcloneRemotes?.[name];
  if (!entry) throw new Error(`no rclone remote '${name}' under \`rcloneRemotes:\``);
  const caFileOf = (file: string | undefined) => (file === undefined ? {} : { caFile: resolveUserPath(file, ctx.workspaceDir) });
  if ('store' in entry) {
    const store = ctx.inventory.stores?.[entry.store];
    if (!store) throw new Error(`rclone remote '${name}': no S3 store '${entry.store}' under \`stores:\` in lifeboat.yaml`);
    const credentials = store.credentials && { accessKeyId: await resolveOption(ctx, store.credentials.accessKeyId), secretAccessKey: await resolveOption(ctx, store.credentials.secretAccessKey) };
    return { definition: s3Remote({ endpoint: store.endpoint, region: store.region, pathStyle: store.pathStyle, credentials }), ...caFileOf(entry.caFile ?? store.caFile) };
  }
  const options: Record<string, string> = {};
  for (const [option, value] of Object.entries(entry.options)) options[option] = await resolveOption(ctx, value);
  return { definition: { type: entry.type, options }, ...caFileOf(entry.caFile) };
}

/**
 * An rclone client for a run that uses these paths: remotes declared in `rcloneRemotes:` are defined
 * for each call (secrets in the child's environment only); every other remote comes from the
 * user's rclone.conf. rclone takes one CA file per command, so two remotes may not need two.
 */
export async function rcloneFor(ctx: ActionContext, paths: readonly RclonePath[], flags: readonly string[] = []): Promise<Rclone> {
  const remotes: Record<string, RcloneRemoteDefinition> = {};
  const caFiles = new Set<string>();
  for (const location of paths) {
    if (location.kind !== 'remote' || !ctx.inventory.rcloneRemotes?.[location.remote] || remotes[location.remote]) continue;
    const declared = await declaredRemote(ctx, location.remote);
    remotes[location.remote] = declared.definition;
    if (declared.caFile) caFiles.add(declared.caFile);
  }
  if (caFiles.size > 1) throw new Error(`rclone takes one CA file per command, and these remotes name ${caFiles.size}: ${[...caFiles].join(', ')}`);
  const [caFile] = caFiles;
  return new Rclone({ remotes, flags: [...insecureFlags(ctx, paths), ...flags], ...(caFile ? { caFile } : {}) });
}

/**
 * `--no-check-certificate` for a remote on a store whose `tls.insecure` opts out of verification.
 * rclone applies it to the whole command, so it is refused when another remote of the command would
 * lose its verification with it.
 */
function insecureFlags(ctx: ActionContext, paths: readonly RclonePath[]): string[] {
  const remotes = [...new Set(paths.flatMap((location) => (location.kind === 'remote' ? [location.remote] : [])))];
  const insecure = remotes.filter((remote) => {
    const entry = ctx.inventory.rcloneRemotes?.[remote];
    return entry !== undefined && 'store' in entry && ctx.inventory.stores?.[entry.store]?.tls?.insecure === true;
  });
  if (insecure.length === 0) return [];
  const verified = remotes.filter((remote) => !insecure.includes(remote));
  if (verified.length > 0) {
    throw new Error(`remote ${insecure.join(', ')} is on a store with \`tls.insecure\`, and rclone would then skip checking the certificate of ${verified.join(', ')} too; copy through a folder on this machine, or give the store a \`caFile\``);
  }
  return ['--no-check-certificate'];
}

function declaredType(entry: RcloneRemoteEntry): string {
  return 'store' in entry ? 's3' : entry.type;
}

/** The backend of a remote: from `rcloneRemotes:` without asking rclone, else from rclone.conf; undefined when neither has it. */
export async function remoteType(ctx: ActionContext, rclone: Rclone, name: string): Promise<string | undefined> {
  const declared = ctx.inventory.rcloneRemotes?.[name];
  if (declared) return declaredType(declared);
  return (await rclone.listRemotes({ signal: ctx.signal })).find((remote) => remote.name === name)?.type;
}

export interface KnownRemote {
  name: string;
  type: string;
  /** Declared in `rcloneRemotes:` rather than read from rclone.conf. */
  declared: boolean;
}

/** Every remote a run can name: `rcloneRemotes:` and the user's rclone.conf (an inventory entry wins for a name in both). Reads no secret. */
export async function knownRemotes(ctx: ActionContext): Promise<KnownRemote[]> {
  const entries = ctx.inventory.rcloneRemotes ?? {};
  const declared = Object.entries(entries).map(([name, entry]) => ({ name, type: declaredType(entry), declared: true }));
  const configured = await new Rclone().listRemotes({ signal: ctx.signal });
  return [...declared, ...configured.filter((remote) => !entries[remote.name]).map((remote) => ({ ...remote, declared: false }))];
}
