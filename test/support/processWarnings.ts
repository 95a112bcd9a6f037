import type Mocha from 'mocha';

/**
 * A process warning (a listener leak, a promise rejection handled late, a deprecated API) is a defect a
 * user sees on their terminal, so a run that emits one fails, naming each warning and where it came
 * from. Warnings are collected from the moment this is called, so those emitted while test files load
 * count too; the returned function adds the check as the root suite's last hook.
 */
export function collectProcessWarnings(): (root: Mocha.Suite) => void {
  const warnings: Error[] = [];
  process.on('warning', (warning) => warnings.push(warning));
  return (root) => {
    root.afterAll('no process warnings', () => {
      if (warnings.length === 0) return;
      const failure = new Error(`${warnings.length} process warning(s) during the run:\n${warnings.map(describeWarning).join('\n')}`);
      // The frames that matter are the warnings' own, listed in the message; this hook's would only add noise.
      failure.stack = failure.message;
      throw failure;
    });
  };
}

/** The warning and the first frames outside Node's own code: where the leak or the late handler is. */
function describeWarning(warning: Error): string {
  const frames = (warning.stack ?? '')
    .split('\n')
    .slice(1)
    .map((line) => line.trim())
    .filter((line) => line.startsWith('at ') && !line.includes('node:internal') && !line.includes('(<anonymous>)'))
    .slice(0, 4)
    .map((line) => `    ${line.replace(process.cwd() + '/', '')}`);
  return [`  ${warning.name}: ${warning.message}`, ...frames].join('\n');
}
