import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { FileExistsError, makeFolders, pathExists, unlinkIfPresent, writeFileAtomically } from '../core/atomicFiles';
import { errorMessage } from '../core/errors';
import { isInsideOrEqual, resolveUserPath } from './paths';
import { addKustomizationResource, kustomizationResources } from './velero/kustomizationResources';

/**
 * A manifest written into the workspace's GitOps repository beside a kustomization.yaml and listed in
 * its `resources:`, for Flux to apply on its next reconcile; the kustomization keeps every other byte.
 */
export interface GitOpsFile {
  /** Absolute paths. */
  file: string;
  kustomization: string;
  /** The entry in `resources:`, relative to the kustomization. */
  entry: string;
  content: string;
  /** The kustomization's text with the entry added (its current text when `listed`). */
  kustomizationText: string;
  /** The kustomization lists the entry already. */
  listed: boolean;
  /** What the file holds now, when it exists and `overwrite` allows replacing it. */
  previous?: string;
}

/** Reads and checks everything before anything is written: the file to write and the kustomization edit, or a clear refusal. */
export async function prepareGitOpsFile(request: { workspaceDir: string; folder: string; entry: string; content: string; overwrite: boolean }): Promise<GitOpsFile> {
  const folder = resolveUserPath(request.folder, request.workspaceDir);
  if (!isInsideOrEqual(path.resolve(request.workspaceDir), folder)) throw new Error(`\`folder\`: ${request.folder} is outside the workspace; the GitOps repository is the workspace's`);
  const relative = (file: string) => path.relative(request.workspaceDir, file);
  const file = path.join(folder, request.entry);
  const kustomization = path.join(folder, 'kustomization.yaml');
  let previous: string | undefined;
  if (await pathExists(file)) {
    if (!request.overwrite) throw new FileExistsError(relative(file));
    previous = await readFile(file, 'utf8');
  }
  const current = await readFile(kustomization, 'utf8').catch((error: unknown) => {
    throw new Error(`\`folder\`: cannot read ${relative(kustomization)} (${errorMessage(error)}); the file is listed there for Flux to apply it`);
  });
  try {
    const listed = kustomizationResources(current).includes(request.entry);
    return { file, kustomization, entry: request.entry, content: request.content, kustomizationText: addKustomizationResource(current, request.entry), listed, ...(previous === undefined ? {} : { previous }) };
  } catch (error) {
    throw new Error(`${relative(kustomization)}: ${errorMessage(error)}`);
  }
}

/** Writes the prepared file (each write atomic), then the kustomization; a failed kustomization write takes a new file back out. */
export async function writeGitOpsFile(prepared: GitOpsFile, workspaceDir: string): Promise<void> {
  await makeFolders(path.dirname(prepared.file));
  const overwrite = prepared.previous !== undefined;
  await writeFileAtomically(prepared.file, prepared.content, { overwrite }).catch((error: unknown) => {
    throw error instanceof FileExistsError ? new FileExistsError(path.relative(workspaceDir, prepared.file)) : error;
  });
  if (prepared.listed) return;
  try {
    await writeFileAtomically(prepared.kustomization, prepared.kustomizationText, { overwrite: true });
  } catch (error) {
    if (!overwrite) await unlinkIfPresent(prepared.file);
    throw error;
  }
}
