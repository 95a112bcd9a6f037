/**
 * `work`, failed when it has not settled within `ms`: for the failure where something loops for ever,
 * which would otherwise hang the suite rather than fail a test.
 */
export function within<Value>(ms: number, work: Promise<Value>, what = 'the work'): Promise<Value> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms)));
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}
