/** How much of a command's stderr an error message quotes. */
const STDERR_TAIL_CHARS = 4000;
/** Time a cancelled command has to exit after SIGTERM before it gets SIGKILL. */
const KILL_GRACE_MS = 3000;

/**
 * The command on the remote side of one exec. OpenSSH's sshd ignores a client's signal request and
 * keeps the channel open until the command exits, so cancelling needs the command's pid: the command
 * runs under `sh`, which prints its pid on stderr and then becomes the command (`exec`). That first
 * line is taken out of stderr here; a stop kills that pid through a second channel.
 */
export class RemoteProcess {
  private pid: string | undefined;
  /** stderr up to its first newline, until the pid line is read. */
  private head: string | undefined = '';
  private tail = '';
  private stopRequested = false;
  private ended = false;

  constructor(
    private readonly kill: (pid: string, signal: 'TERM' | 'KILL') => Promise<unknown>,
    private readonly onStderr?: (chunk: string) => void,
  ) {}

  /** The argument vector that reports the pid and then runs `argv`. */
  static wrap(argv: readonly string[]): string[] {
    return ['sh', '-c', 'echo "$$" >&2 && exec "$@"', 'sh', ...argv];
  }

  /** Feeds a chunk of the channel's stderr; the command's own stderr goes on to `onStderr`. */
  stderr(chunk: string): void {
    if (this.head !== undefined) {
      const head = this.head + chunk;
      const newline = head.indexOf('\n');
      if (newline < 0) {
        this.head = head;
        return;
      }
      this.head = undefined;
      const first = head.slice(0, newline).trim();
      // No pid line when the transport failed before the command ran (`ssh` refusing a host key).
      if (/^\d+$/.test(first)) {
        this.pid = first;
        chunk = head.slice(newline + 1);
        if (this.stopRequested) this.signal();
      } else {
        chunk = head;
      }
    }
    this.pass(chunk);
  }

  private pass(chunk: string): void {
    if (chunk === '') return;
    this.onStderr?.(chunk);
    this.tail = (this.tail + chunk).slice(-STDERR_TAIL_CHARS);
  }

  get stderrTail(): string {
    return this.tail;
  }

  /** Asks the command to stop (SIGTERM, then SIGKILL if it lingers); once its pid is known, if not yet. */
  stop(): void {
    if (this.stopRequested) return;
    this.stopRequested = true;
    if (this.pid !== undefined) this.signal();
  }

  /** The channel closed: nothing left to kill. */
  exited(): void {
    this.ended = true;
    if (this.head) this.pass(this.head);
    this.head = undefined;
  }

  private signal(): void {
    const pid = this.pid;
    if (pid === undefined) return;
    // A failed kill (the command has just exited) changes nothing: the channel closes either way.
    void this.kill(pid, 'TERM').catch(() => undefined);
    setTimeout(() => {
      if (!this.ended) void this.kill(pid, 'KILL').catch(() => undefined);
    }, KILL_GRACE_MS).unref();
  }
}
