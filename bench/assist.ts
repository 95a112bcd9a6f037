/**
 * What an edit in an action cell costs: the diagnostics of the whole runbook (run after each pause in
 * typing) against `lifeboat check` of the same runbook, their floor, and one completion request.
 * Targets for a runbook of 100 action cells: diagnostics ≤ 1.2× check and ≤ 20 ms median; completion
 * of a key ≤ 1 ms median; of a reference (which reads every earlier cell) ≤ 0.8× check.
 */
import { builtinActions } from '../src/actions';
import { ActionRegistry } from '../src/core/actions/registry';
import { completeActionCell, completionScope } from '../src/core/assist/completions';
import { diagnoseRunbook } from '../src/core/assist/diagnostics';
import { parseRunbook } from '../src/core/runbook/parse';
import { checkRunbook } from '../src/core/runner/validate';
import { median } from './statistics';

const STEP = `## Volume {n}

\`\`\`lifeboat {id=list{n}}
action: archive.list
location: /srv/backups/app{n}
prefix: app
\`\`\`

\`\`\`lifeboat
action: archive.restore
archive: \${steps.list{n}.archives.0.path}
target: /srv/app{n}
strip: \${params.strip}
colour: blue
\`\`\`

`;

function runbookWithSteps(pairs: number): string {
  let text = '---\nparams:\n  strip: { type: number, default: 1 }\n---\n\n# Restore\n\n';
  for (let n = 1; n <= pairs; n++) text += STEP.replaceAll('{n}', String(n));
  return text;
}

/**
 * Median milliseconds of each workload, run in turn in rotating order, so none always pays for
 * collecting another's garbage and load from elsewhere on the machine hits all of them alike.
 */
function medians<Name extends string>(rounds: number, workloads: Record<Name, () => unknown>): Record<Name, number> {
  const entries = Object.entries(workloads) as Array<[Name, () => unknown]>;
  const timings = new Map<Name, number[]>(entries.map(([name]) => [name, []]));
  for (let i = 0; i < 5; i++) for (const [, run] of entries) run();
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < entries.length; k++) {
      const [name, run] = entries[(round + k) % entries.length] as [Name, () => unknown];
      const start = performance.now();
      run();
      timings.get(name)?.push(performance.now() - start);
    }
  }
  return Object.fromEntries([...timings].map(([name, values]) => [name, median(values)])) as Record<Name, number>;
}

const registry = new ActionRegistry(builtinActions);
const text = runbookWithSteps(50);
const document = parseRunbook(text);
const lastCell = document.cells.length - 1;
const source = document.cells[lastCell]?.source ?? '';
const rounds = 200;

const { check, diagnose, completeKey, completeReference } = medians(rounds, {
  check: () => checkRunbook(document, { registry }),
  diagnose: () => diagnoseRunbook(document, registry),
  completeKey: () => completeActionCell(source, { line: 4, character: 0 }, completionScope(document, lastCell, registry)),
  completeReference: () => completeActionCell(source, { line: 1, character: 11 }, completionScope(document, lastCell, registry)),
});
const problems = [...diagnoseRunbook(document, registry).cells.values()].flat().length;

console.log(
  `action cell assist (${(text.length / 1024).toFixed(0)} KiB, ${document.cells.length} cells, ${problems} problems, median of ${rounds}): ` +
    `check ${check.toFixed(2)} ms, diagnostics ${diagnose.toFixed(2)} ms (${(diagnose / check).toFixed(2)}×, target ≤ 1.2× and ≤ 20 ms), ` +
    `completion in the last cell: of a key ${completeKey.toFixed(2)} ms (target ≤ 1 ms), of a reference ${completeReference.toFixed(2)} ms (target ≤ 0.8× check)`,
);
