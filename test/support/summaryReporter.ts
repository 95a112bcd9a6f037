import Mocha from 'mocha';
import { failIfTheProcessOutlivesTheRun } from './lingeringHandles';
import { loadFailureLine, loadFailures, reportLoadFailuresAsTests } from './loadFailures';
import { collectProcessWarnings } from './processWarnings';

// Mocha loads its reporter before the test files: from here on, a file that throws while it loads
// is reported instead of ending the run, and every process warning is counted.
reportLoadFailuresAsTests();
const checkProcessWarnings = collectProcessWarnings();

/**
 * The spec reporter, plus the closing line CI reads: `N passed, N failed[, N skipped]`, followed by a
 * `suite failed to load: <file>: <error>` line for each test file that could not be loaded (counted
 * as a failure: its tests never ran). A process that does not end after its run fails, naming what
 * holds it.
 */
class SummaryReporter extends Mocha.reporters.Spec {
  constructor(runner: Mocha.Runner, options?: Mocha.MochaOptions) {
    super(runner, options);
    checkProcessWarnings(runner.suite);
    runner.once(Mocha.Runner.constants.EVENT_RUN_END, () => {
      const { passes = 0, failures = 0, pending = 0 } = runner.stats ?? {};
      process.stdout.write(`\n${passes} passed, ${failures} failed${pending ? `, ${pending} skipped` : ''}\n`);
      for (const failure of loadFailures) process.stdout.write(`${loadFailureLine(failure)}\n`);
      failIfTheProcessOutlivesTheRun();
    });
  }
}

export = SummaryReporter;
