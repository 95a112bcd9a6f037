/**
 * parse + serialize of a runbook against the floor of any markdown-it based parser: markdown-it's own
 * block-level tokenize of the same text, measured side by side in this process.
 * Targets: ≤ 1.3× the floor for a 1 MiB runbook, ≤ 5 ms median for a typical 50 KiB runbook.
 */
import markdownIt from 'markdown-it';
import { parseRunbook } from '../src/core/runbook/parse';
import { serializeRunbook } from '../src/core/runbook/serialize';
import { runbookOfSize } from './sampleRunbook';
import { median } from './statistics';

/**
 * Runs the two workloads in alternating order (floor first on even rounds, ours first on odd ones) so
 * neither always pays for collecting the other's garbage; returns median milliseconds.
 */
function measure(text: string, rounds: number): { floor: number; ours: number } {
  const floorParser = markdownIt('default', { html: true });
  floorParser.core.ruler.enableOnly(['normalize', 'block']);
  const floorRun = () => floorParser.parse(text, {});
  const oursRun = () => {
    if (serializeRunbook(parseRunbook(text)) !== text) throw new Error('round trip changed the text');
  };
  const timings = { floor: [] as number[], ours: [] as number[] };
  const timed = (name: keyof typeof timings, run: () => unknown) => {
    const start = performance.now();
    run();
    timings[name].push(performance.now() - start);
  };
  for (let i = 0; i < 5; i++) {
    floorRun();
    oursRun();
  }
  for (let i = 0; i < rounds; i++) {
    if (i % 2 === 0) {
      timed('floor', floorRun);
      timed('ours', oursRun);
    } else {
      timed('ours', oursRun);
      timed('floor', floorRun);
    }
  }
  return { floor: median(timings.floor), ours: median(timings.ours) };
}

function report(label: string, text: string, rounds: number, target: string): void {
  const { floor, ours } = measure(text, rounds);
  const size = text.length >= 1024 * 1024 ? `${(text.length / 1024 / 1024).toFixed(2)} MiB` : `${(text.length / 1024).toFixed(0)} KiB`;
  console.log(
    `${label} (${size}, ${parseRunbook(text).cells.length} cells, median of ${rounds}): ` +
      `markdown-it block tokenize ${floor.toFixed(2)} ms, parse+serialize ${ours.toFixed(2)} ms, ratio ${(ours / floor).toFixed(2)}× (${target})`,
  );
}

report('typical runbook', runbookOfSize(50 * 1024), 400, 'target ≤ 5 ms median');
report('large runbook', runbookOfSize(1024 * 1024), 40, 'target ≤ 1.3×');
