/**
 * `import { source } from './module?worker-source'`: the module bundled on its own, as the text a
 * `new Worker(source, { eval: true })` runs (see `workerSources` in esbuild.config.mjs).
 */
declare module '*?worker-source' {
  export const source: string;
}
