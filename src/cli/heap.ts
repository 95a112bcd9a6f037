import { setFlagsFromString } from 'node:v8';

/**
 * How far V8 lets the old generation grow past what was live at the last full collection while a
 * `steadyHeap` action runs: by half. By default it may grow to several times that, and a snapshot
 * mirror's promoted garbage took it there: 175 MiB peak RSS over 100 000 uploads where about 25 MiB
 * is live. V8 reads the flag each time it sets the next limit, so it applies from the next collection;
 * 0 gives the choice back to V8. `--optimize-for-size` bounded the heap as well, but also changed
 * how code is compiled: a recordings backup spent twice the CPU under it.
 */
const STEADY_HEAP_GROWING_PERCENT = 50;

let steady = false;

export function keepHeapSteady(on: boolean): void {
  if (on === steady) return;
  steady = on;
  setFlagsFromString(`--heap-growing-percent=${on ? STEADY_HEAP_GROWING_PERCENT : 0}`);
}
