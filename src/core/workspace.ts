import { access } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Inventory } from './actions/spec';
import { ValidationError } from './errors';
import { validateInventory } from './inventory/validate';
import { INVENTORY_FILE } from './paths';
import { readTextFile } from './textFiles';
import { readYaml } from './yamlData';

/** The workspace of a runbook: the nearest folder up from it that holds `lifeboat.yaml`, else its own folder. */
export async function findWorkspaceDir(runbookPath: string): Promise<string> {
  const start = dirname(resolve(runbookPath));
  for (let dir = start; ; dir = dirname(dir)) {
    if (await exists(join(dir, INVENTORY_FILE))) return dir;
    if (dirname(dir) === dir) return start;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Reads and validates an inventory file. A missing default inventory is an empty one; a named file
 * that is missing, malformed or not valid against the schema is an error with its path and line.
 */
export async function loadInventory(path: string, { required }: { required: boolean }): Promise<Inventory> {
  let text: string;
  try {
    text = await readTextFile(path, 'inventory');
  } catch (error) {
    if (error instanceof ValidationError) throw error;
    if (!required && (error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new ValidationError([{ file: path, message: `cannot read the inventory: ${(error as Error).message}` }]);
  }
  const read = readYaml(text);
  if (!read.ok) {
    throw new ValidationError(read.faults.map((fault) => ({ file: path, line: read.lineCounter.linePos(fault.start).line, message: fault.message })));
  }
  const { data, document, lineCounter } = read;
  if (data === null || data === undefined) return {};
  if (typeof data !== 'object' || Array.isArray(data)) {
    throw new ValidationError([{ file: path, line: 1, message: 'the inventory is a YAML mapping (hosts:, clusters:, stores:, locations: …)' }]);
  }
  const { inventory, problems } = validateInventory(data, document, lineCounter, path);
  if (problems.length > 0) throw new ValidationError(problems);
  return inventory;
}

/**
 * The workspace of a runbook and its inventory: `explicit` when given (then it must exist), else the
 * workspace's `lifeboat.yaml` when there is one.
 */
export async function loadWorkspace(runbookPath: string, explicit?: string): Promise<{ workspaceDir: string; inventory: Inventory }> {
  const workspaceDir = await findWorkspaceDir(runbookPath);
  const inventory = await loadInventory(explicit ?? join(workspaceDir, INVENTORY_FILE), { required: explicit !== undefined });
  return { workspaceDir, inventory };
}

/** A workspace folder known in advance (the editor's) and its `lifeboat.yaml` when there is one. */
export async function loadWorkspaceAt(workspaceDir: string): Promise<{ workspaceDir: string; inventory: Inventory }> {
  return { workspaceDir, inventory: await loadInventory(join(workspaceDir, INVENTORY_FILE), { required: false }) };
}
