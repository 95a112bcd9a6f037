import { open } from 'node:fs/promises';
import { ValidationError } from './errors';
import { formatBytes } from './render';

/**
 * The most a text file Lifeboat reads may hold. Parsing and checking cost time and memory in
 * proportion to the size (a 50 MB runbook took seconds and gigabytes), and no real runbook, inventory
 * or secrets file comes near these, so a larger file is refused before it is read.
 */
export const TEXT_FILE_LIMITS = {
  runbook: 4 * 1024 * 1024,
  inventory: 1024 * 1024,
  'secrets file': 1024 * 1024,
  // Backrest's config.json: a few KiB per plan; thousands of plans stay far below.
  'Backrest config': 4 * 1024 * 1024,
  // What `lifeboat parse` prints for a runbook at its limit: each cell's text three times over,
  // escaped, and a few hundred bytes of structure per cell (165 MB for 4 MiB of one-line cells).
  'runbook as JSON': 256 * 1024 * 1024,
} as const;

export type TextFileKind = keyof typeof TEXT_FILE_LIMITS;

/**
 * Reads a UTF-8 text file of at most the limit of its kind. The size is checked before reading and the
 * read stops one byte past the limit, so a file that grows meanwhile, or a device with no size, is
 * refused without being held in memory. Errors of the file system itself (ENOENT…) pass through.
 */
export async function readTextFile(path: string, kind: TextFileKind, shownAs: string = path): Promise<string> {
  const limit = TEXT_FILE_LIMITS[kind];
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    if (size > limit) throw tooLarge(kind, shownAs, size);
    return await readTextStream(handle.createReadStream({ autoClose: false, end: limit }), kind, shownAs);
  } finally {
    await handle.close();
  }
}

/** Reads a stream (stdin) as `readTextFile` reads a file: refused as soon as it passes the limit. */
export async function readTextStream(stream: AsyncIterable<Uint8Array>, kind: TextFileKind, shownAs?: string): Promise<string> {
  const limit = TEXT_FILE_LIMITS[kind];
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of stream) {
    total += chunk.byteLength;
    if (total > limit) throw tooLarge(kind, shownAs, undefined);
    chunks.push(chunk);
  }
  return decodeText(Buffer.concat(chunks, total), kind, shownAs);
}

function tooLarge(kind: TextFileKind, file: string | undefined, size: number | undefined): ValidationError {
  const limit = TEXT_FILE_LIMITS[kind];
  const found = size === undefined ? 'more than that' : `${size} bytes`;
  const article = /^[aeiou]/.test(kind) ? 'an' : 'a';
  return new ValidationError([{ file, message: `too large: ${article} ${kind} may hold at most ${formatBytes(limit)} (${limit} bytes), this one holds ${found}; it is not read` }]);
}

// `ignoreBOM` keeps a UTF-8 byte order mark in the text, so the runbook parser can record it and write it back.
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Bytes as text, refused when they are not UTF-8: replacing a bad sequence with U+FFFD would run and
 * save something other than what the file says. The error names the line and column of the first
 * bad sequence (overlong forms, surrogates and truncated sequences included, as WHATWG's decoder
 * defines UTF-8).
 */
export function decodeText(bytes: Uint8Array, kind: TextFileKind, shownAs?: string): string {
  // Bytes handed over whole (the editor's) are refused before they are parsed.
  if (bytes.byteLength > TEXT_FILE_LIMITS[kind]) throw tooLarge(kind, shownAs, bytes.byteLength);
  try {
    return strictUtf8.decode(bytes);
  } catch {
    throw new ValidationError([describeInvalidUtf8(bytes, shownAs)]);
  }
}

function describeInvalidUtf8(bytes: Uint8Array, file: string | undefined) {
  const offset = Math.max(0, firstInvalidSequence(bytes));
  let line = 1;
  let lineStart = 0;
  for (let at = 0; at < offset; at++) {
    const byte = bytes[at];
    // `\r\n`, `\r` and `\n` end a line, as the runbook parser counts lines.
    if (byte === 0x0a || (byte === 0x0d && bytes[at + 1] !== 0x0a)) {
      line++;
      lineStart = at + 1;
    }
  }
  // A byte order mark is no character an editor shows.
  const columnStart = lineStart === 0 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : lineStart;
  const column = [...strictUtf8.decode(bytes.subarray(columnStart, offset))].length + 1;
  const utf16 = (bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff) ? ' (it starts like UTF-16)' : '';
  return { file, line, message: `not valid UTF-8 at column ${column} (byte offset ${offset})${utf16}; save the file as UTF-8` };
}

/** The offset of the first byte sequence that is not UTF-8, or -1. */
function firstInvalidSequence(bytes: Uint8Array): number {
  let at = 0;
  while (at < bytes.length) {
    const lead = bytes[at] as number;
    if (lead < 0x80) {
      at++;
      continue;
    }
    const [continuations, lower, upper] = sequenceShape(lead);
    if (continuations === 0) return at;
    for (let index = 1; index <= continuations; index++) {
      const byte = bytes[at + index];
      const [min, max] = index === 1 ? [lower, upper] : [0x80, 0xbf];
      if (byte === undefined || byte < min || byte > max) return at;
    }
    at += continuations + 1;
  }
  return -1;
}

/**
 * How many continuation bytes a lead byte takes, and the range its first one must fall in: the
 * narrower ranges after E0, ED, F0 and F4 rule out overlong forms, surrogates and code points past
 * U+10FFFF. Zero continuations: not a lead byte (C0, C1, F5–FF, or a stray continuation byte).
 */
function sequenceShape(lead: number): [continuations: number, lower: number, upper: number] {
  if (lead >= 0xc2 && lead <= 0xdf) return [1, 0x80, 0xbf];
  if (lead === 0xe0) return [2, 0xa0, 0xbf];
  if (lead === 0xed) return [2, 0x80, 0x9f];
  if (lead >= 0xe1 && lead <= 0xef) return [2, 0x80, 0xbf];
  if (lead === 0xf0) return [3, 0x90, 0xbf];
  if (lead >= 0xf1 && lead <= 0xf3) return [3, 0x80, 0xbf];
  if (lead === 0xf4) return [3, 0x80, 0x8f];
  return [0, 0, 0];
}
