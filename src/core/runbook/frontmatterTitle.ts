/**
 * The `title:` of a runbook's frontmatter by a plain line scan, for lists that show many runbooks
 * (the Runbooks view) and must not load a YAML parser to do it. Only a top-level, single-line
 * title is read; anything fancier (block scalars, anchors) gives undefined and the file name is shown.
 */
export function frontmatterTitle(text: string): string | undefined {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  if (lines[0]?.trimEnd() !== '---') return undefined;
  for (const line of lines.slice(1)) {
    if (/^(---|\.\.\.)\s*$/.test(line)) return undefined;
    const match = /^title:[ \t]*(.*?)[ \t]*$/.exec(line);
    if (match) return scalar(match[1] ?? '');
  }
  return undefined;
}

function scalar(raw: string): string | undefined {
  const quoted = /^(["'])(.*)\1$/.exec(raw);
  if (quoted) {
    const [, quote, inner = ''] = quoted;
    const value = quote === '"' ? inner.replace(/\\(["\\])/g, '$1') : inner.replace(/''/g, "'");
    return value.trim() || undefined;
  }
  // Block scalars, aliases, flow collections and empty values are not a one-line title.
  if (raw === '' || /^[|>&*[{]/.test(raw)) return undefined;
  return raw.replace(/[ \t]+#.*$/, '') || undefined;
}

/**
 * What a list calls a runbook: its frontmatter `title:`, else its first level-one heading outside
 * the frontmatter and fenced code (a `# comment` in a shell cell is not a heading).
 */
export function runbookTitle(text: string): string | undefined {
  const title = frontmatterTitle(text);
  if (title !== undefined) return title;
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  let index = 0;
  if (lines[0]?.trimEnd() === '---') {
    const end = lines.findIndex((line, at) => at > 0 && /^(---|\.\.\.)\s*$/.test(line));
    if (end < 0) return undefined;
    index = end + 1;
  }
  let fence: string | undefined;
  for (const line of lines.slice(index)) {
    const marker = /^ {0,3}(`{3,}|~{3,})/.exec(line)?.[1];
    if (fence !== undefined) {
      if (marker !== undefined && marker[0] === fence[0] && marker.length >= fence.length && line.trim() === marker) fence = undefined;
      continue;
    }
    if (marker !== undefined) {
      fence = marker;
      continue;
    }
    const heading = /^ {0,3}#[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$/.exec(line)?.[1];
    if (heading) return heading;
  }
  return undefined;
}
