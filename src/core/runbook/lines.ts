import type { TextSpan } from '../errors';

/** A place in a text as editors count it: 0-based line and 0-based character in that line. */
export interface TextPosition {
  line: number;
  character: number;
}

export interface TextRange {
  start: TextPosition;
  end: TextPosition;
}

/**
 * Line starts of a text, with the same line breaks markdown-it normalises (`\r\n`, `\r`, `\n`), so a
 * token's line map points at the right bytes of the original, un-normalised text.
 */
export class LineIndex {
  /** `starts[i]` is the offset of line i; `starts[count]` is the text's length. */
  private readonly starts: number[];
  readonly crlfCount: number;
  readonly lfCount: number;

  constructor(readonly text: string) {
    const starts = [0];
    let crlf = 0;
    let lf = 0;
    const length = text.length;
    if (!text.includes('\r')) {
      // The common case, found with native search rather than a character loop.
      for (let at = text.indexOf('\n'); at !== -1; at = text.indexOf('\n', at + 1)) starts.push(at + 1);
      lf = starts.length - 1;
    } else {
      for (let i = 0; i < length; i++) {
        const code = text.charCodeAt(i);
        if (code === 10) {
          lf++;
          starts.push(i + 1);
        } else if (code === 13) {
          if (text.charCodeAt(i + 1) === 10) {
            i++;
            crlf++;
          }
          starts.push(i + 1);
        }
      }
    }
    if (starts[starts.length - 1] !== length) starts.push(length);
    this.starts = starts;
    this.crlfCount = crlf;
    this.lfCount = lf;
  }

  get count(): number {
    return this.starts.length - 1;
  }

  start(line: number): number {
    return this.starts[Math.min(line, this.count)] as number;
  }

  /** The lines `[from, to)` with their line breaks. */
  slice(from: number, to: number): string {
    return this.text.slice(this.start(from), this.start(to));
  }

  /** Line `line` without its line break. */
  content(line: number): string {
    return this.text.slice(this.start(line), this.start(line + 1)).replace(/\r?\n$|\r$/, '');
  }

  /** The line and character of an offset; offsets past the end are the end. */
  positionAt(offset: number): TextPosition {
    const clamped = Math.max(0, Math.min(offset, this.text.length));
    let low = 0;
    let high = this.lastLine;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if (this.start(middle) <= clamped) low = middle;
      else high = middle - 1;
    }
    const line = low;
    return { line, character: Math.min(clamped - this.start(line), this.content(line).length) };
  }

  /** The offset of a position; a character past the line's end is its end. */
  offsetAt(position: TextPosition): number {
    const line = Math.max(0, Math.min(position.line, this.lastLine));
    return this.start(line) + Math.max(0, Math.min(position.character, this.content(line).length));
  }

  /** An editor shows one more, empty line after a final line break. */
  private get lastLine(): number {
    return this.count === 0 || endsWithLineBreak(this.text) ? this.count : this.count - 1;
  }

  rangeOf(span: TextSpan): TextRange {
    return { start: this.positionAt(span.start), end: this.positionAt(span.end) };
  }

  isBlank(line: number): boolean {
    const end = this.start(line + 1);
    for (let i = this.start(line); i < end; i++) {
      const code = this.text.charCodeAt(i);
      if (code !== 32 && code !== 9 && code !== 10 && code !== 13) return false;
    }
    return true;
  }
}

export function endsWithLineBreak(text: string): boolean {
  const last = text.charCodeAt(text.length - 1);
  return last === 10 || last === 13;
}

export function toLf(text: string): string {
  return text.includes('\r') ? text.replace(/\r\n?/g, '\n') : text;
}

/** The text without one final line break. */
export function withoutFinalLineBreak(text: string): string {
  if (text.endsWith('\r\n')) return text.slice(0, -2);
  return text.endsWith('\n') || text.endsWith('\r') ? text.slice(0, -1) : text;
}
