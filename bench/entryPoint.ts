/** Runs a benchmark's entry point (the parent, or a `--child` measurement): a failure prints its error and exits non-zero. */
export function runEntryPoint(work: () => Promise<unknown>): void {
  work().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
