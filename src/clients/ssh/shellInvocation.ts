import { posix } from 'node:path';

/**
 * Reads an argument list the way the programs in it will: which arguments a shell runs as script
 * text (`sh -c SCRIPT`, also behind `env`, `sudo` and similar wrappers), and where the program
 * proper starts, so environment variables meant for it can be put in front of it rather than in
 * front of a `sudo` that would drop them.
 */

/** Programs that run their `-c` argument as script text. */
const SHELLS = new Set(['sh', 'bash', 'rbash', 'dash', 'ash', 'hush', 'zsh', 'ksh', 'ksh93', 'mksh', 'lksh', 'pdksh', 'posh', 'yash', 'csh', 'tcsh', 'fish']);

interface Wrapper {
  /** Options that take the next argument as their value. */
  valued: ReadonlySet<string>;
  /** Operands before the command it runs (`timeout DURATION command`). */
  operands?: number;
  /** `NAME=value` arguments before the command (`env`). */
  assignments?: boolean;
}

/** Programs that run the rest of the argument list as a command. */
const WRAPPERS: Readonly<Record<string, Wrapper>> = {
  env: { valued: new Set(['-u', '--unset', '-C', '--chdir']), assignments: true },
  sudo: { valued: new Set(['-u', '--user', '-g', '--group', '-C', '--close-from', '-D', '--chdir', '-h', '--host', '-p', '--prompt', '-r', '--role', '-t', '--type', '-T', '--command-timeout', '-U', '--other-user', '-R', '--chroot']) },
  doas: { valued: new Set(['-u', '-C']) },
  nice: { valued: new Set(['-n', '--adjustment']) },
  nohup: { valued: new Set() },
  setsid: { valued: new Set() },
  stdbuf: { valued: new Set(['-i', '-o', '-e']) },
  timeout: { valued: new Set(['-k', '--kill-after', '-s', '--signal']), operands: 1 },
};

/** `env -S STRING` splits its value into a command itself, expanding `${NAME}` from the environment. */
const ENV_SPLIT_STRING = new Set(['-S', '--split-string']);

export interface ShellInvocation {
  /** Where the program starts, past any wrappers: variables for it go right before this index. */
  programAt: number;
  /** Arguments that are script text to a shell. */
  scriptsAt: number[];
  /**
   * The first wrapper or program position `isOpaque` held unknowable (a value not yet known); the
   * reading stops there, as what follows depends on it.
   */
  opaqueAt?: number;
}

export function readShellInvocation(argv: readonly string[], isOpaque: (argument: string) => boolean = () => false): ShellInvocation {
  let index = 0;
  for (;;) {
    const argument = argv[index];
    if (argument === undefined) return { programAt: index, scriptsAt: [] };
    if (isOpaque(argument)) return { programAt: index, scriptsAt: [], opaqueAt: index };
    const program = posix.basename(argument);
    if (program === 'busybox' && argv[index + 1] !== undefined && SHELLS.has(argv[index + 1] as string)) {
      return { programAt: index, scriptsAt: shellScriptAt(argv, index + 2) };
    }
    if (SHELLS.has(program)) return { programAt: index, scriptsAt: shellScriptAt(argv, index + 1) };
    const wrapper = WRAPPERS[program];
    if (!wrapper) return { programAt: index, scriptsAt: [] };
    const next = skipWrapper(argv, index + 1, wrapper, program === 'env');
    if ('splitStringAt' in next) return { programAt: index, scriptsAt: [next.splitStringAt] };
    index = next.commandAt;
  }
}

/** Past a wrapper's options, operands and assignments, to the command it runs. */
function skipWrapper(argv: readonly string[], start: number, wrapper: Wrapper, isEnv: boolean): { commandAt: number } | { splitStringAt: number } {
  let index = start;
  for (; index < argv.length; index++) {
    const argument = argv[index] as string;
    if (argument === '--') {
      index++;
      break;
    }
    if (!argument.startsWith('-') || argument === '-') break;
    if (isEnv && (ENV_SPLIT_STRING.has(argument) || /^-[^-]*S$/.test(argument))) return { splitStringAt: index + 1 };
    if (argument.startsWith('--')) {
      if (wrapper.valued.has(argument)) index++;
      continue;
    }
    // A cluster of short options: a valued one takes the rest of the cluster, or the next argument.
    for (let letter = 1; letter < argument.length; letter++) {
      if (!wrapper.valued.has(`-${argument[letter]}`)) continue;
      if (letter === argument.length - 1) index++;
      break;
    }
  }
  if (argv[index] === '-') index++;
  index += wrapper.operands ?? 0;
  while (wrapper.assignments && /^[^=-][^=]*=/.test(argv[index] ?? '')) index++;
  return { commandAt: index };
}

/** The script argument of a shell's arguments starting at `start`: the first operand, when `-c` is among the options. */
function shellScriptAt(argv: readonly string[], start: number): number[] {
  let command = false;
  let index = start;
  for (; index < argv.length; index++) {
    const argument = argv[index] as string;
    if (argument === '--') {
      index++;
      break;
    }
    if (/^[-+][A-Za-z]+$/.test(argument)) {
      const letters = argument.slice(1);
      if (argument.startsWith('-') && letters.includes('c')) command = true;
      // `-o pipefail`, `-O extglob`: the option's value is the next argument.
      if (/[oO]/.test(letters)) index++;
      continue;
    }
    if (argument.startsWith('--')) {
      if (argument === '--rcfile' || argument === '--init-file') index++;
      continue;
    }
    break;
  }
  return command && index < argv.length ? [index] : [];
}

/**
 * The argument list with `variables` set in the environment of its program: a quoted
 * `env -- NAME=value …` right before the program, past wrappers such as `sudo` that would drop them.
 */
export function withEnvironment(argv: readonly string[], variables: Readonly<Record<string, string>>): string[] {
  const assignments = Object.entries(variables).map(([name, value]) => `${name}=${value}`);
  if (assignments.length === 0) return [...argv];
  const { programAt } = readShellInvocation(argv);
  return [...argv.slice(0, programAt), 'env', '--', ...assignments, ...argv.slice(programAt)];
}
