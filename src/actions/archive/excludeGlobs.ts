/**
 * Exclude patterns for `archive.create`, with the semantics people know from `.gitignore` and
 * `tar --exclude`: a pattern without `/` matches a name at any depth (`*.log`, `node_modules`), a
 * pattern with `/` matches the path from the archive base (`cache/**`, `data/*.tmp`), `**` spans
 * folders, and a trailing `/` matches folders only. An excluded folder is not descended into.
 *
 * Written here rather than using `path.matchesGlob`, which is experimental on Node 20 and prints a
 * warning on first use.
 */

import { escapeRegExp } from '../../core/regexp';

export type ExcludeMatcher = (relativePath: string, isDirectory: boolean) => boolean;

interface ExcludeRule {
  regex: RegExp;
  matchesBasenameOnly: boolean;
  directoriesOnly: boolean;
}

export function compileExcludes(patterns: readonly string[]): ExcludeMatcher {
  const rules = patterns.map(compileRule);
  if (rules.length === 0) return () => false;
  return (relativePath, isDirectory) =>
    rules.some((rule) => {
      if (rule.directoriesOnly && !isDirectory) return false;
      const subject = rule.matchesBasenameOnly ? relativePath.slice(relativePath.lastIndexOf('/') + 1) : relativePath;
      return rule.regex.test(subject);
    });
}

function compileRule(pattern: string): ExcludeRule {
  let body = pattern.trim().replace(/^\.\//, '');
  const directoriesOnly = body.endsWith('/');
  body = body.replace(/\/+$/, '');
  const anchored = body.includes('/');
  body = body.replace(/^\/+/, '');
  return {
    regex: new RegExp(`^${globToRegExpSource(body)}$`),
    matchesBasenameOnly: !anchored,
    directoriesOnly,
  };
}

/** Translates one glob into a regular-expression body that matches a whole `/`-separated path. */
function globToRegExpSource(glob: string): string {
  let source = '';
  let index = 0;
  while (index < glob.length) {
    const char = glob.charAt(index);
    if (char === '*') {
      const isDoubleStar = glob.charAt(index + 1) === '*';
      const startsSegment = index === 0 || glob.charAt(index - 1) === '/';
      const afterStars = index + (isDoubleStar ? 2 : 1);
      const endsSegment = afterStars === glob.length || glob.charAt(afterStars) === '/';
      if (isDoubleStar && startsSegment && endsSegment) {
        if (afterStars === glob.length) {
          // `a/**` matches everything below `a`; a lone `**` matches everything.
          source = source.endsWith('/') ? `${source.slice(0, -1)}(?:/.*)?` : `${source}.*`;
          index = afterStars;
        } else {
          // `**/` matches zero or more whole folders.
          source += '(?:[^/]+/)*';
          index = afterStars + 1;
        }
        continue;
      }
      source += '[^/]*';
      index = afterStars;
      continue;
    }
    if (char === '?') {
      source += '[^/]';
      index++;
      continue;
    }
    if (char === '[') {
      const close = glob.indexOf(']', index + 2);
      if (close !== -1) {
        let members = glob.slice(index + 1, close);
        const negated = members.startsWith('!') || members.startsWith('^');
        if (negated) members = members.slice(1);
        source += `[${negated ? '^/' : ''}${members.replace(/\\/g, '\\\\')}]`;
        index = close + 1;
        continue;
      }
    }
    if (char === '{') {
      const close = glob.indexOf('}', index);
      if (close !== -1) {
        const alternatives = glob.slice(index + 1, close).split(',');
        source += `(?:${alternatives.map(globToRegExpSource).join('|')})`;
        index = close + 1;
        continue;
      }
    }
    if (char === '\\' && index + 1 < glob.length) {
      source += escapeRegExp(glob.charAt(index + 1));
      index += 2;
      continue;
    }
    source += escapeRegExp(char);
    index++;
  }
  return source;
}
