import { createInterface } from 'node:readline/promises';
import type { Logger, OutputSink, ProgressReporter, ProgressUpdate } from '../core/actions/spec';
import { describeProgress } from '../core/render';

/** How often progress is drawn: often enough to look alive, rarely enough to cost nothing. */
const TTY_REFRESH_MS = 100;
const PLAIN_REFRESH_MS = 5000;

/**
 * Everything the CLI writes to stderr: progress (one redrawn line on a terminal, occasional plain
 * lines otherwise), step status and log lines. Results go to stdout so they can be piped.
 */
export class Terminal {
  private progressLine = '';
  private lastDraw = 0;

  constructor(
    private readonly stderr: NodeJS.WriteStream = process.stderr,
    private readonly verbose = false,
  ) {}

  get interactive(): boolean {
    return Boolean(this.stderr.isTTY);
  }

  /** Writes a line to stderr, first clearing a progress line that is on screen. */
  line(text: string): void {
    this.clearProgress();
    this.stderr.write(`${text}\n`);
  }

  write(stream: NodeJS.WriteStream, text: string): void {
    this.clearProgress();
    stream.write(text);
  }

  progress(label: string): ProgressReporter {
    let state: ProgressUpdate = {};
    return {
      report: (update) => {
        state = { ...state, ...update };
        const now = Date.now();
        if (now - this.lastDraw < (this.interactive ? TTY_REFRESH_MS : PLAIN_REFRESH_MS)) return;
        this.lastDraw = now;
        const text = `${label} ${describeProgress(state)}`;
        if (this.interactive) {
          this.progressLine = text.slice(0, (this.stderr.columns || 100) - 1);
          this.stderr.write(`\r\x1b[2K${this.progressLine}`);
        } else {
          this.stderr.write(`${text}\n`);
        }
      },
    };
  }

  logger(label: string): Logger {
    return {
      debug: (message) => {
        if (this.verbose) this.line(`${label} debug: ${message}`);
      },
      info: (message) => this.line(`${label} ${message}`),
      warn: (message) => this.line(`${label} warning: ${message}`),
      error: (message) => this.line(`${label} error: ${message}`),
    };
  }

  /** Shell output: stdout to `stdout` (stderr when stdout carries JSON), stderr to stderr. */
  output(stdout: NodeJS.WriteStream): OutputSink {
    return { write: (stream, chunk) => this.write(stream === 'stdout' ? stdout : this.stderr, chunk) };
  }

  async ask(question: string): Promise<boolean> {
    this.clearProgress();
    const prompt = createInterface({ input: process.stdin, output: this.stderr });
    try {
      const answer = await prompt.question(`${question} [y/N] `);
      return /^y(es)?$/i.test(answer.trim());
    } finally {
      prompt.close();
    }
  }

  clearProgress(): void {
    if (!this.progressLine) return;
    this.stderr.write('\r\x1b[2K');
    this.progressLine = '';
  }
}
