/** Entry of `dist/format.js`: the runbook parser and serializer (markdown-it, yaml). */
export { parseRunbook } from '../core/runbook/parse';
export { serializeRunbook } from '../core/runbook/serialize';
