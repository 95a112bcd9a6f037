/**
 * `dist/cli.js`, what `lifeboat` runs: the CLI itself is the bundle beside it (`cli-main.js`), loaded
 * through the code cache (see codeCache.ts), so this file is all Node compiles from scratch.
 */
import path from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { requireBundle } from './codeCache';
import type * as cliMain from './main';

// A run from cron or in a pod is mostly waiting on the network, and a long one (a snapshot mirror
// over 100 000 events) otherwise lets V8 grow the old generation to two or three times what is live
// before collecting it: 162 MiB peak over 10 000 uploads, 123 MiB with this at the same speed. The
// flag only steers the collector's heuristics, which read it at each collection, so setting it here
// works as it would on node's command line, whichever way the CLI was started (a launcher, a cron
// line, a container's command).
setFlagsFromString('--optimize-for-size');

(requireBundle(path.join(__dirname, 'cli-main.js')) as typeof cliMain).start();
