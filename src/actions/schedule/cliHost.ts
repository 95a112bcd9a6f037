import type { Readable } from 'node:stream';
import type { ExecResult, SshConnection } from '../../clients/ssh';
import { printable } from '../../core/render';
import { CRON_PATH } from './crontab';

/**
 * What `schedule.cli.install` asks of a host, each question one command. Every path and text reaches
 * the host as an argument of a fixed script (`sh -c SCRIPT sh ARGS…`), never as script text.
 */

/** The line every launcher holds: a file at the launcher's path without it is somebody else's and is never overwritten. */
export const LAUNCHER_MARKER = '# Lifeboat CLI launcher';

/** The Node.js the CLI needs there: package.json `engines.node`, `>=MAJOR.MINOR`. */
export interface NodeVersion {
  major: number;
  minor: number;
  patch: number;
}

export interface HostFacts {
  home: string;
  /** The PATH of an SSH session there, for messages about a `node` it does not find. */
  path: string;
  /** The node program found there, absolute, and what its `--version` printed; undefined when there is none. */
  node?: { path: string; printed: string };
}

/** `$1`: the node program, a name looked up on the session's PATH or an absolute path. */
const HOST_FACTS_SCRIPT = `printf '%s\\0' "$HOME" "$PATH"
node=$(command -v -- "$1") || exit 0
printf '%s\\0' "$node"
"$node" --version 2>&1 || true`;

export async function hostFacts(connection: SshConnection, node: string, signal: AbortSignal): Promise<HostFacts> {
  const [home = '', path = '', nodePath, printed] = (await connection.run(['sh', '-c', HOST_FACTS_SCRIPT, 'sh', node], { signal })).stdout?.split('\0') ?? [];
  if (!home.startsWith('/')) throw new Error(`${connection.label}: the home folder there is '${printable(home)}', not an absolute path`);
  return { home, path, ...(nodePath ? { node: { path: nodePath, printed: (printed ?? '').trim() } } : {}) };
}

export function parseNodeVersion(text: string): NodeVersion | undefined {
  const match = /^v?(\d+)\.(\d+)\.(\d+)/.exec(text.trim());
  return match ? { major: Number(match[1]), minor: Number(match[2]), patch: Number(match[3]) } : undefined;
}

export function isAtLeast(version: NodeVersion, minimum: NodeVersion): boolean {
  return version.major !== minimum.major ? version.major > minimum.major : version.minor !== minimum.minor ? version.minor > minimum.minor : version.patch >= minimum.patch;
}

/** What is at a path on the host: nothing, something that is no file, or a file with its sha256 and whether it is a launcher. */
export type ExistingFile = { kind: 'absent' } | { kind: 'not a file' } | { kind: 'file'; sha256: string; launcher: boolean };

/** `$1`: the launcher marker; then the paths, one answer line each. */
const EXISTING_SCRIPT = `marker=$1
shift
for path do
  if [ -f "$path" ]; then
    sum=$(sha256sum < "$path") || exit 1
    if grep -q -F -e "$marker" -- "$path"; then echo "\${sum%% *} launcher"; else echo "\${sum%% *}"; fi
  elif [ -e "$path" ] || [ -L "$path" ]; then echo other
  else echo absent
  fi
done`;

export async function existingFiles(connection: SshConnection, paths: readonly string[], signal: AbortSignal): Promise<ExistingFile[]> {
  const lines = ((await connection.run(['sh', '-c', EXISTING_SCRIPT, 'sh', LAUNCHER_MARKER, ...paths], { signal })).stdout ?? '').split('\n');
  return paths.map((path, index): ExistingFile => {
    const line = lines[index] ?? '';
    if (line === 'absent') return { kind: 'absent' };
    if (line === 'other') return { kind: 'not a file' };
    const match = /^([0-9a-f]{64})( launcher)?$/.exec(line);
    if (!match?.[1]) throw new Error(`${connection.label}: cannot tell what is at ${printable(path)}: '${printable(line)}'`);
    return { kind: 'file', sha256: match[1], launcher: match[2] !== undefined };
  });
}

/** A file to put on the host, as it must arrive there. */
export interface FileToWrite {
  /** The name in the staged upload (bundles) or the final path (the launcher). */
  name: string;
  bytes: number;
  sha256: string;
}

export interface InstallRequest {
  folder: string;
  /** The folder's parent, where the upload is staged: a rename from there into the folder is atomic. */
  folderParent: string;
  launcher: string;
  launcherDir: string;
  /** The launcher's text, undefined when the launcher there is already this one. */
  launcherText?: string;
  launcherFile?: FileToWrite;
  /** The bundles the tar on stdin holds, in its order. */
  bundles: readonly FileToWrite[];
}

/**
 * Puts the CLI in place in one command, so that nothing but this command's own trap has to clean up
 * after a failure, a cancel or a dropped connection: the bundles arrive as a tar on stdin into a
 * staging folder beside the versioned folder, the launcher into a temporary name beside its path;
 * each is checked (size, sha256) against what was sent, and only then are they renamed to their
 * final names, the launcher last, so it never points at a folder still being filled. A stop (TERM)
 * while tar reads is taken at once: `wait` returns for a trapped signal, a foreground tar would not.
 * `$1` folder, `$2` its parent, `$3` launcher, `$4` its folder, `$5` launcher text (empty: keep
 * the launcher), `$6` its bytes, `$7` its sha256, then `name bytes sha256` per bundle on stdin.
 */
const INSTALL_SCRIPT = `folder=$1 parent=$2 launcher=$3 launcher_dir=$4 launcher_text=$5 launcher_bytes=$6 launcher_sum=$7
shift 7
staging= launcher_tmp= job=
trap 'rm -rf -- \${staging:+"$staging"} \${launcher_tmp:+"$launcher_tmp"}' EXIT
trap '[ -z "$job" ] || { kill "$job" 2>/dev/null; wait "$job"; }; exit 143' HUP INT TERM
check() {
  size=$(wc -c < "$1") && [ "$size" -eq "$2" ] || { echo "$4: the host received $size of $2 bytes" >&2; return 1; }
  sum=$(sha256sum < "$1") && sum=\${sum%% *} && [ "$sum" = "$3" ] || { echo "$4: the copy on the host has sha256 $sum, not $3" >&2; return 1; }
}
refuse_folder() {
  [ ! -d "$1" ] || { echo "$1 is a folder" >&2; exit 1; }
}
if [ $# -gt 0 ]; then
  mkdir -p -- "$parent" && staging=$(mktemp -d "$parent/.lifeboat-staging.XXXXXX") || exit 1
  exec 3<&0
  tar -x -o -f - -C "$staging" <&3 3<&- &
  job=$!
  wait "$job" || { echo "tar could not unpack the upload" >&2; exit 1; }
  job=
  i=0
  for field do
    case $((i % 3)) in
      0) name=$field ;;
      1) bytes=$field ;;
      2) check "$staging/$name" "$bytes" "$field" "$folder/$name" || exit 1; refuse_folder "$folder/$name" ;;
    esac
    i=$((i + 1))
  done
fi
if [ -n "$launcher_text" ]; then
  refuse_folder "$launcher"
  mkdir -p -- "$launcher_dir" && launcher_tmp=$(mktemp "$launcher_dir/.lifeboat-launcher.XXXXXX") || exit 1
  printf '%s' "$launcher_text" > "$launcher_tmp" && check "$launcher_tmp" "$launcher_bytes" "$launcher_sum" "$launcher" && chmod 755 "$launcher_tmp" || exit 1
fi
if [ $# -gt 0 ]; then
  mkdir -p -- "$folder" || exit 1
  i=0
  for field do
    if [ $((i % 3)) -eq 0 ]; then chmod 644 "$staging/$field" && mv -f -- "$staging/$field" "$folder/$field" || exit 1; fi
    i=$((i + 1))
  done
fi
if [ -n "$launcher_text" ]; then
  mv -f -- "$launcher_tmp" "$launcher" || exit 1
  launcher_tmp=
fi`;

export function installOnHost(connection: SshConnection, request: InstallRequest, upload: Readable | undefined, signal: AbortSignal): Promise<ExecResult> {
  const launcher = request.launcherFile;
  const argv = [
    'sh',
    '-c',
    INSTALL_SCRIPT,
    'sh',
    request.folder,
    request.folderParent,
    request.launcher,
    request.launcherDir,
    request.launcherText ?? '',
    String(launcher?.bytes ?? 0),
    launcher?.sha256 ?? '',
    ...request.bundles.flatMap((file) => [file.name, String(file.bytes), file.sha256]),
  ];
  return connection.exec(argv, { ...(upload ? { stdin: upload } : {}), signal });
}

export interface InstalledLauncher {
  /** What `<launcher> --version` printed. */
  printed: string;
  /** Where `lifeboat` leads on the PATH of an SSH session, and on cron's, links resolved; undefined where it is not found. */
  sessionLifeboat?: string;
  cronLifeboat?: string;
  /** The launcher itself, links resolved. */
  resolved: string;
}

/** `$1` launcher, `$2` cron's PATH. */
const LAUNCHER_SCRIPT = `"$1" --version || exit
printf '\\0'
found=$(command -v lifeboat) && readlink -f -- "$found"
printf '\\0'
PATH=$2
found=$(command -v lifeboat) && readlink -f -- "$found"
printf '\\0'
readlink -f -- "$1"`;

/** Runs the launcher as a person and cron would, and tells which `lifeboat` each of them finds. */
export async function checkLauncher(connection: SshConnection, launcher: string, signal: AbortSignal): Promise<InstalledLauncher> {
  const result = await connection.exec(['sh', '-c', LAUNCHER_SCRIPT, 'sh', launcher, CRON_PATH], { signal });
  const [printed = '', session = '', cron = '', resolved = ''] = (result.stdout ?? '').split('\0').map((part) => part.replace(/\n$/, ''));
  if (result.exitCode !== 0) {
    throw new Error(`launcher: \`${printable(launcher)} --version\` does not run on ${connection.label}: exit code ${result.exitCode ?? 'unknown'}${result.stderrTail.trim() ? `:\n${result.stderrTail.trim()}` : ''}`);
  }
  return { printed: printed.trim(), ...(session ? { sessionLifeboat: session } : {}), ...(cron ? { cronLifeboat: cron } : {}), resolved: resolved || launcher };
}
