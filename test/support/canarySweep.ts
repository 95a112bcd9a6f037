import type { Dirent } from 'node:fs';
import type { rm } from 'node:fs/promises';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canaryOccurrences, recordForScan, SUITE_SECRETS } from './canaries';

/**
 * A mocha root hook (registered in .mocharc.json) that sweeps every run record a test leaves under the
 * temporary folder for the suite's secrets (`SUITE_SECRETS`): each folder a test removes with `fs/promises` `rm` is read
 * first, and whatever is left is read when the suite ends. A canary found fails the suite.
 */
const nodeFsPromises = createRequire(__filename)('node:fs/promises') as { rm: typeof rm };
const originalRm = nodeFsPromises.rm;
const suiteStarted = Date.now();
const sweep = { folders: 0, files: 0, lines: 0, occurrences: [] as string[] };
const swept = new Set<string>();

/** Every `.lifeboat/runs/*.jsonl` below `root`, links not followed. */
function runFiles(root: string, depth = 0): string[] {
  if (depth > 8) return [];
  let entries: Dirent[];
  try {
    entries = readdirSync(root, { withFileTypes: true });
  } catch {
    return [];
  }
  const files: string[] = [];
  for (const entry of entries) {
    if (!entry.isDirectory() || entry.name === 'node_modules') continue;
    const path = join(root, entry.name);
    if (entry.name === 'runs' && root.endsWith('.lifeboat')) {
      for (const file of readdirSync(path)) if (file.endsWith('.jsonl')) files.push(join(path, file));
    } else {
      files.push(...runFiles(path, depth + 1));
    }
  }
  return files;
}

function sweepFolder(root: string): void {
  const files = runFiles(root).filter((file) => !swept.has(file));
  if (files.length === 0) return;
  sweep.folders++;
  for (const file of files) {
    swept.add(file);
    sweep.files++;
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (line === '') continue;
      sweep.lines++;
      sweep.occurrences.push(...canaryOccurrences(recordForScan(line), SUITE_SECRETS).map((where) => `${file}: ${where}`));
    }
  }
}

export const mochaHooks = {
  beforeAll(): void {
    nodeFsPromises.rm = async (path, options) => {
      if (typeof path === 'string' && path.startsWith(tmpdir())) sweepFolder(path);
      return originalRm(path, options);
    };
  },
  afterAll(): void {
    nodeFsPromises.rm = originalRm;
    for (const entry of readdirSync(tmpdir())) {
      const path = join(tmpdir(), entry);
      try {
        if (statSync(path).mtimeMs >= suiteStarted) sweepFolder(path);
      } catch {
        // Removed meanwhile by another process.
      }
    }
    process.stdout.write(`canary sweep: ${sweep.lines} run records in ${sweep.files} files of ${sweep.folders} test folders, ${sweep.occurrences.length} canary occurrences\n`);
    if (sweep.occurrences.length > 0) throw new Error(`canary secrets found in run records:\n${sweep.occurrences.join('\n')}`);
  },
};
