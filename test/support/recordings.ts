import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';

const DAY_MS = 24 * 60 * 60 * 1000;

/** The UTC day `daysAgo` days before today, as `YYYY-MM-DD`. */
export const utcDay = (daysAgo: number): string => new Date(Date.now() - daysAgo * DAY_MS).toISOString().slice(0, 10);

/** Every file under a folder (none when it is missing), by its path relative to it, with its contents. */
export async function filesUnder(root: string): Promise<Map<string, Buffer>> {
  const found = new Map<string, Buffer>();
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      const full = join(dir, entry.name);
      if (entry.isDirectory()) await walk(full);
      else found.set(relative(root, full), await readFile(full));
    }
  };
  await walk(root);
  return found;
}

/** Frigate's `DATE/HH/<camera>/MM.SS.mp4` as the backup's `<camera>/DATE/HH/MM.SS.mp4`, for the recordings `keep` accepts. */
export function inBackupLayout(podFiles: ReadonlyMap<string, Buffer>, keep: (camera: string, date: string) => boolean = () => true): Map<string, Buffer> {
  const mapped = new Map<string, Buffer>();
  for (const [entry, data] of podFiles) {
    const [date, hour, camera, file] = entry.split('/') as [string, string, string, string];
    if (keep(camera, date)) mapped.set(`${camera}/${date}/${hour}/${file}`, data);
  }
  return mapped;
}
