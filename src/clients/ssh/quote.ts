/** Characters that never need quoting in a POSIX shell word. */
const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

/**
 * One argument as a POSIX shell word: left bare when it is plainly safe, else single-quoted with
 * embedded single quotes written as `'\''`. The remote login shell splits it back into exactly
 * this argument, whatever it contains.
 */
export function quoteShellArgument(argument: string): string {
  if (argument.includes('\0')) throw new Error('a remote command argument cannot contain a NUL byte');
  if (SAFE_WORD.test(argument)) return argument;
  return `'${argument.replaceAll("'", `'\\''`)}'`;
}

/**
 * The command line an SSH server hands to the remote user's shell, built from an argument array.
 * Callers never pass a shell string, so no value can turn into shell syntax.
 */
export function remoteCommand(argv: readonly string[]): string {
  if (argv.length === 0) throw new Error('a remote command needs at least the program to run');
  return argv.map(quoteShellArgument).join(' ');
}
