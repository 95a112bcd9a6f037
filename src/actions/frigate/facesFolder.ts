import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { sshConnectionFor } from '../../clients/ssh';
import type { ActionContext } from '../../core/actions/spec';
import { findFrigatePod, frigateEntry } from './target';

/**
 * Frigate's face folder, where `method: files` restores: in its pod (commands through Kubernetes
 * exec) or on the host that runs its container (commands through SSH). Both sides run the same
 * commands, so a restore has one code path for both. Every command is an argument list; its
 * scripts are constants and take every value (folders, the `train` name) as a positional parameter.
 */
export interface FacesFolder {
  /** `pod frigate/frigate-7d9f` or `host 'nas'`. */
  where: string;
  /** Absolute path of the face folder there. */
  path: string;
  /** Runs a command there and returns its stdout; a non-zero exit is an error. */
  run(argv: readonly string[], signal: AbortSignal): Promise<string>;
  /** Runs a command with `input` streamed to its stdin (bulk data: the system `ssh` when there is one). */
  runWithInput(argv: readonly string[], input: Readable, signal: AbortSignal): Promise<void>;
  /** Runs a command whose stdout is streamed into `output`, which is ended when the command succeeds and destroyed when it fails. */
  runWithOutput(argv: readonly string[], output: Writable, signal: AbortSignal): Promise<void>;
}

/** Frigate's face folder in its container (`FACE_DIR` in frigate/const.py). */
const POD_FACES_DIR = '/media/frigate/clips/faces';
/** The face folder below the media folder (`/media/frigate` in the container) that `files.path` names on a host. */
const FACES_BELOW_MEDIA = 'clips/faces';
export const TRAIN_FOLDER = 'train';

export const describeFacesFolder = (folder: FacesFolder): string => `${folder.where}:${folder.path}`;

/** The face folder of an instance, as `frigate.<name>.files` in lifeboat.yaml says: a pod of a cluster, or a folder on a host. */
export async function openFacesFolder(ctx: ActionContext, frigate: string): Promise<FacesFolder> {
  const files = frigateEntry(ctx, frigate).files;
  if (!files) throw new Error(`\`method: files\` needs \`frigate.${frigate}.files\` in lifeboat.yaml (the cluster of its pod, or the host and media folder of its container); or use \`method: api\``);
  if ('host' in files) {
    if (!path.posix.isAbsolute(files.path)) throw new Error(`\`frigate.${frigate}.files.path\` must be an absolute folder on host '${files.host}' (Frigate's media folder, mounted as /media/frigate), not '${files.path}'`);
    const ssh = await sshConnectionFor(ctx.clients, ctx.inventory, files.host, { signal: ctx.signal, approveHostKey: ctx.approveHostKey, log: ctx.log });
    return {
      where: `host '${files.host}'`,
      path: path.posix.join(files.path, FACES_BELOW_MEDIA),
      run: async (argv, signal) => (await ssh.run(argv, { signal })).stdout ?? '',
      runWithInput: async (argv, input, signal) => void (await ssh.runBulk(argv, { stdin: input, signal })),
      runWithOutput: async (argv, output, signal) => {
        try {
          await ssh.runBulk(argv, { stdout: output, signal });
        } catch (error) {
          // The stream has ended with the channel already; what reads it must not take it as whole.
          output.destroy(error instanceof Error ? error : new Error(String(error)));
          throw error;
        }
      },
    };
  }
  const { kube, pod } = await findFrigatePod(ctx, frigate, files);
  const ref = { namespace: pod.namespace, pod: pod.name, ...(files.container ? { container: files.container } : {}) };
  return {
    where: `pod ${pod.namespace}/${pod.name}`,
    path: POD_FACES_DIR,
    run: (argv, signal) => kube.execText({ ...ref, command: argv, signal }),
    runWithInput: (argv, input, signal) => kube.exec({ ...ref, command: argv, stdin: input, signal }),
    runWithOutput: async (argv, output, signal) => {
      try {
        await kube.exec({ ...ref, command: argv, stdout: output, signal });
      } catch (error) {
        output.destroy(error instanceof Error ? error : new Error(String(error)));
        throw error;
      }
      output.end();
    },
  };
}

/** The files of the face library with their sha256, by `<person>/<file>`; empty when the folder is missing. */
export async function listFacesFolder(folder: FacesFolder, signal: AbortSignal): Promise<Map<string, string>> {
  const listing = await folder.run(['sh', '-c', '[ -d "$1" ] || exit 0; cd "$1" && find . -mindepth 2 -maxdepth 2 -type f ! -name "._*" -exec sha256sum {} +', 'sh', folder.path], signal);
  const files = new Map<string, string>();
  for (const line of listing.split('\n')) {
    const match = /^([0-9a-f]{64}) [ *]\.\/(.+)$/.exec(line);
    if (match?.[1] && match[2]) files.set(match[2], match[1]);
  }
  return files;
}

/** The whole face folder as it is now, as a tar.gz written to `file` (created, never overwritten); removed again when the copy fails. */
export async function saveFacesFolder(folder: FacesFolder, file: string, signal: AbortSignal): Promise<void> {
  const tar = new PassThrough({ highWaterMark: 1024 * 1024 });
  try {
    await Promise.all([
      folder.runWithOutput(['sh', '-c', 'mkdir -p "$1" && cd "$1" && exec tar cf - .', 'sh', folder.path], tar, signal),
      pipeline(tar, createGzip(), createWriteStream(file, { flags: 'wx', flush: true }), { signal }),
    ]);
  } catch (error) {
    await rm(file, { force: true });
    throw error;
  }
}

/** Deletes every person's folder; `train` (recent recognition attempts) stays. */
export async function emptyPeople(folder: FacesFolder, signal: AbortSignal): Promise<void> {
  await folder.run(['sh', '-c', 'cd "$1" && find . -mindepth 1 -maxdepth 1 -type d ! -name "$2" -exec rm -rf {} +', 'sh', folder.path, TRAIN_FOLDER], signal);
}

/** `placeImages` on the far side: `$1` the staging folder, `$2` the face folder. */
const PLACE_SCRIPT = `staging=$1 faces=$2
trap 'rm -rf -- "$staging"' EXIT
trap 'exit 143' HUP INT TERM
mkdir -p -- "$staging" "$faces" && tar xf - -C "$staging" && cd "$staging" || exit 1
for person in *; do
  [ -d "$person" ] || continue
  if [ -d "$faces/$person" ]; then
    for file in "$person"/*; do
      [ -e "$faces/$file" ] || mv -- "$file" "$faces/$file" || exit 1
    done
  else
    mv -- "$person" "$faces/$person" || exit 1
  fi
done`;

/**
 * Unpacks `tar` (images as `<person>/<file>`) into a staging folder, then moves what is not there yet
 * into the face folder: a person new to the library as a whole folder, files one by one into one that
 * exists. A cut stream or a failed unpack moves nothing; the staging folder is removed either way.
 *
 * The staging folder is a hidden sibling of the face folder, not a folder inside it: Frigate takes
 * every folder in its face folder (hidden ones too) for a person, in `GET /api/faces` and when it
 * rebuilds its classifier (frigate/api/classification.py `get_faces`, and `build_model` in
 * frigate/data_processing/common/face/model.py). On the same volume, the moves are renames.
 */
export async function placeImages(folder: FacesFolder, tar: Readable, signal: AbortSignal): Promise<void> {
  const staging = path.posix.join(path.posix.dirname(folder.path), `.lifeboat-faces-restore-${randomBytes(6).toString('hex')}`);
  await folder.runWithInput(['sh', '-c', PLACE_SCRIPT, 'sh', staging, folder.path], tar, signal);
}
