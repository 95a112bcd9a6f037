import { relative } from 'node:path';
import Mocha from 'mocha';

export interface LoadFailure {
  file: string;
  error: unknown;
}

/** Test files that threw while mocha loaded them, in the order mocha tried them. */
export const loadFailures: LoadFailure[] = [];

const LOAD_FAILURE = 'suite failed to load';

/**
 * Mocha stops at the first test file that throws while it is loaded and prints an exception, not a
 * result: one broken file (a fixture it cannot read, a failing import) hides every other test, and
 * a summary counting tests cannot say what happened. Loaded one file at a time instead, a file that
 * fails to load becomes a failing test named after it (under "suite failed to load"), none of its
 * tests run, and every other file still does.
 */
export function reportLoadFailuresAsTests(): void {
  const loadFilesAsync = Mocha.prototype.loadFilesAsync;
  Mocha.prototype.loadFilesAsync = async function loadEachFile(this: Mocha, ...args: Parameters<Mocha['loadFilesAsync']>): Promise<void> {
    const files = this.files;
    try {
      for (const file of files) {
        this.files = [file];
        const { suites, tests } = this.suite;
        const [suitesBefore, testsBefore] = [suites.length, tests.length];
        try {
          await loadFilesAsync.apply(this, args);
        } catch (error) {
          // What the file declared before it threw is a part of it: none of it runs.
          suites.splice(suitesBefore);
          tests.splice(testsBefore);
          loadFailures.push({ file: relative(process.cwd(), file), error });
        }
      }
    } finally {
      this.files = files;
    }
    if (loadFailures.length === 0) return;
    const failed = Mocha.Suite.create(this.suite, LOAD_FAILURE);
    for (const { file, error } of loadFailures) {
      failed.addTest(
        new Mocha.Test(`${file}: ${firstLine(error)}`, () => {
          throw error;
        }),
      );
    }
  };
}

/** One line a reader cannot mistake for a failing assertion. */
export function loadFailureLine({ file, error }: LoadFailure): string {
  return `${LOAD_FAILURE}: ${file}: ${firstLine(error)}`;
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';
}
