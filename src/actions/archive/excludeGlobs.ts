/**
 * Exclude patterns for `archive.create`, read as `.gitignore` lines (gitignore(5)) by the `ignore`
 * package: a pattern without a `/` except at its end matches a name at any depth (`*.log`,
 * `node_modules`); one with a `/` at its start or in its middle matches the path from the archive base
 * (`/cache`, `data/*.tmp`); a trailing `/` matches folders only; `**` spans folders; `!` takes a path
 * back in (unless a folder above it is excluded); `\#` and `\!` are literal; trailing spaces are
 * dropped unless escaped. Two conveniences on top: `{a,b}` alternatives and a leading `./` (the base).
 * An excluded folder is not descended into.
 */
import ignore from 'ignore';

export type ExcludeMatcher = (relativePath: string, isDirectory: boolean) => boolean;

export function compileExcludes(patterns: readonly string[]): ExcludeMatcher {
  if (patterns.length === 0) return () => false;
  // Case-sensitive, as git reads .gitignore on Linux (core.ignorecase false).
  const rules = ignore({ ignorecase: false }).add(patterns.flatMap(expandAlternatives).map((pattern) => pattern.replace(/^\.\//, '/')));
  return (relativePath, isDirectory) => {
    // `ignore` reads paths relative to the base, `/`-separated (as the tree walk gives them), and throws on `./`.
    const path = relativePath.replace(/^(?:\.\/)+/, '');
    if (path === '' || path === '.') return false;
    return rules.ignores(isDirectory ? `${path}/` : path);
  };
}

/** `*.{jpg,png}` as `*.jpg` and `*.png`, as a shell or tar user writes it; `\{` stays literal. */
function expandAlternatives(pattern: string): string[] {
  const match = /^((?:[^\\{]|\\.)*)\{([^{}]*,[^{}]*)\}(.*)$/s.exec(pattern);
  if (!match) return [pattern];
  const [, before = '', alternatives = '', after = ''] = match;
  return alternatives.split(',').flatMap((alternative) => expandAlternatives(`${before}${alternative}${after}`));
}
