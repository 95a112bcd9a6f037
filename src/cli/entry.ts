/**
 * `dist/cli.js`, what `lifeboat` runs: the CLI itself is the bundle beside it (`cli-main.js`), loaded
 * through the code cache (see codeCache.ts), so this file is all Node compiles from scratch.
 */
import path from 'node:path';
import { requireBundle } from './codeCache';
import type * as cliMain from './main';

(requireBundle(path.join(__dirname, 'cli-main.js')) as typeof cliMain).start();
