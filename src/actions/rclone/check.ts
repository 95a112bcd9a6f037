import * as z from 'zod';
import type { RcloneCheckResult } from '../../clients/rclone';
import { defineAction } from '../../core/actions/spec';
import { formatCount, printable } from '../../core/render';
import { parseRclonePath, rcloneArgument, rcloneFor } from './remotes';

/** Differences an error message names; the rest are counted. */
const NAMED_DIFFERENCES = 20;

const DIFFERENCE_TEXT = {
  'missing-on-destination': 'missing on the destination',
  'missing-on-source': 'only on the destination',
  differ: 'differs',
  error: 'could not be compared',
} as const;

export const rcloneCheckParams = z
  .object({
    source: z.string().min(1).describe('The original: a folder or file on this machine (relative to the workspace) or `remote:path`.'),
    destination: z.string().min(1).describe('The copy to check: `remote:path` or a folder on this machine.'),
    compare: z
      .enum(['checksum', 'size', 'download'])
      .default('checksum')
      .describe('`checksum` compares sizes and the checksums both sides know (MD5 for Google Drive and S3) and fails where they share none; `size` only sizes; `download` reads both sides and compares their bytes (for a crypt remote, say).'),
    oneWay: z.boolean().default(true).describe('Only check that every source file is on the destination unchanged; files only on the destination (older backups) are fine.'),
    include: z.array(z.string().min(1)).optional().describe("Only the files these rclone filter patterns match (e.g. `badr_backup_*`), on both sides; by default every file."),
  })
  .strict();

export type RcloneCheckParams = z.output<typeof rcloneCheckParams>;

export interface RcloneCheckActionResult extends RcloneCheckResult {
  source: string;
  destination: string;
}

export class RcloneCheckFailedError extends Error {
  constructor(readonly result: RcloneCheckActionResult) {
    const named = result.differences.slice(0, NAMED_DIFFERENCES).map((difference) => `- ${printable(difference.path)}: ${DIFFERENCE_TEXT[difference.kind]}`);
    const more = result.differences.length > NAMED_DIFFERENCES ? [`- … and ${result.differences.length - NAMED_DIFFERENCES} more`] : [];
    super([`${result.destination} does not match ${result.source}: ${formatCount(result.differences.length, 'difference')}, ${formatCount(result.matching, 'file')} match`, ...named, ...more].join('\n'));
    this.name = 'RcloneCheckFailedError';
  }
}

export const rcloneCheck = defineAction({
  id: 'rclone.check',
  title: 'Check a copy with rclone',
  description: 'Checks that a copy (on any rclone remote or this machine) holds every file of its source, unchanged by size and checksum; fails naming each difference.',
  params: rcloneCheckParams,
  destructive: false,
  readOnly: true,
  async plan(params, ctx) {
    const source = rcloneArgument(parseRclonePath(params.source, 'source', ctx.workspaceDir));
    const destination = rcloneArgument(parseRclonePath(params.destination, 'destination', ctx.workspaceDir));
    return { summary: `Check ${destination} against ${source}`, operations: [{ kind: 'verify', target: destination }], destructive: false };
  },
  async run(params, ctx): Promise<RcloneCheckActionResult> {
    const source = parseRclonePath(params.source, 'source', ctx.workspaceDir);
    const destination = parseRclonePath(params.destination, 'destination', ctx.workspaceDir);
    const rclone = await rcloneFor(ctx, [source, destination]);
    const checked = await rclone.check(rcloneArgument(source), rcloneArgument(destination), { oneWay: params.oneWay, sizeOnly: params.compare === 'size', download: params.compare === 'download', include: params.include, signal: ctx.signal });
    const result = { source: rcloneArgument(source), destination: rcloneArgument(destination), ...checked };
    if (!result.ok) throw new RcloneCheckFailedError(result);
    if (params.compare === 'checksum' && result.unhashed > 0) {
      throw new Error(`${result.destination} and ${result.source} share no checksum: ${formatCount(result.unhashed, 'file')} could only be compared by size; check with \`compare: download\` (reads both sides), or accept sizes with \`compare: size\``);
    }
    return result;
  },
  render(result: RcloneCheckActionResult) {
    return `${result.destination} matches ${result.source}: ${formatCount(result.matching, 'file')} checked.`;
  },
});
