/**
 * rsync's account of what it changes, as `--out-format` prints it: `%i` (the itemized change), `%l`
 * (the size) and `%n` (the name, `/` after a folder). rsync writes every byte of a name that is not
 * printable as `\#ooo` (octal), a newline included, so one line is always one change.
 */

/** Starts each line of ours, apart from rsync's own messages on the same stream. */
export const CHANGE_MARKER = 'lifeboat-change:';
export const OUT_FORMAT = `${CHANGE_MARKER} %i %l %n`;

export type ChangeKind = 'create' | 'update' | 'attributes' | 'delete';

export interface SyncChange {
  kind: ChangeKind;
  /** Relative to the synced folder; `.` is the folder itself. */
  path: string;
  isDirectory: boolean;
  /** The size rsync reports (0 for a deletion). */
  bytes: number;
}

/** Turns `\#ooo` escapes back into the bytes they stand for, and the bytes into text. */
export function decodeRsyncName(escaped: string): string {
  const bytes: number[] = [];
  for (let index = 0; index < escaped.length; ) {
    const escape = /^\\#([0-7]{3})/.exec(escaped.slice(index, index + 5));
    if (escape) {
      bytes.push(Number.parseInt(escape[1] as string, 8));
      index += 5;
      continue;
    }
    const code = escaped.codePointAt(index) as number;
    const character = String.fromCodePoint(code);
    bytes.push(...Buffer.from(character, 'utf8'));
    index += character.length;
  }
  return Buffer.from(bytes).toString('utf8');
}

function kindOf(itemized: string): ChangeKind {
  if (itemized.startsWith('*deleting')) return 'delete';
  const [update, , ...attributes] = itemized;
  if (update === '.') return 'attributes';
  return attributes.length > 0 && attributes.every((flag) => flag === '+') ? 'create' : 'update';
}

/** One change from a line of ours, or undefined for any other line (rsync's messages). */
export function parseChangeLine(line: string): SyncChange | undefined {
  if (!line.startsWith(`${CHANGE_MARKER} `)) return undefined;
  const rest = line.slice(CHANGE_MARKER.length + 1);
  const itemized = rest.slice(0, 11);
  const match = /^ (\d+) (.*)$/s.exec(rest.slice(11));
  if (itemized.length !== 11 || !match) return undefined;
  const named = decodeRsyncName(match[2] as string);
  const kind = kindOf(itemized);
  const isDirectory = named.endsWith('/') || (kind !== 'delete' && itemized[1] === 'd');
  const path = named === './' ? '.' : named.endsWith('/') ? named.slice(0, -1) : named;
  return { kind, path, isDirectory, bytes: kind === 'delete' || isDirectory ? 0 : Number(match[1]) };
}

/** Collects the changes from a stream of text chunks, passing every other line on. */
export class ChangeCollector {
  readonly changes: SyncChange[] = [];
  private partial = '';

  constructor(private readonly onOtherLine: (line: string) => void) {}

  write(chunk: string): void {
    const lines = (this.partial + chunk).split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) this.take(line);
  }

  end(): void {
    if (this.partial) this.take(this.partial);
    this.partial = '';
  }

  private take(line: string): void {
    const change = parseChangeLine(line);
    if (change) this.changes.push(change);
    else if (line.trim()) this.onOtherLine(line);
  }
}
