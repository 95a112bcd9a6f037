/**
 * Values that run a command if any script or command line pastes them as text. Each one that can
 * names `sentinel`, a file that must never come to exist; the others are option look-alikes,
 * expansions, globs and characters that break naive quoting.
 */
export function hostilePayloads(sentinel: string): string[] {
  return [
    `x"; touch ${sentinel}; echo "`,
    `x'; touch ${sentinel}; echo '`,
    `$(touch ${sentinel})`,
    `\`touch ${sentinel}\``,
    `; touch ${sentinel}`,
    `&& touch ${sentinel}`,
    `|| touch ${sentinel}`,
    `| touch ${sentinel}`,
    `& touch ${sentinel}`,
    `\ntouch ${sentinel}\n`,
    `\r\ntouch ${sentinel}`,
    `> ${sentinel}`,
    `<(touch ${sentinel})`,
    `\${IFS}touch\${IFS}${sentinel}`,
    `\\"; touch ${sentinel}; \\`,
    `'"'"'; touch ${sentinel}; '"'"'`,
    `x} ; touch ${sentinel} ; {`,
    `$((1+1))$(touch ${sentinel})`,
    `a[$(touch ${sentinel})]`,
    `\${params.p}\${steps.emit.stdout}$\${x}`,
    `% touch ${sentinel} %`,
    '-rf',
    '--help',
    '-',
    '$HOME',
    '${IFS}',
    '*',
    '~',
    '!!',
    '#comment',
    "'",
    '"',
    '\\',
    '\\\\%\\%%',
    ' leading and trailing spaces ',
    'ünïcødé ☃ 𝄞 עִבְרִית 🔑',
    '\u0001\u0002\u0007\u0008\t\u000b\u000c\u001b[31mred\u007f\u0085\u2028\u2029',
    `${'A'.repeat(64 * 1024)}$(touch ${sentinel})`,
  ];
}

/** A string as a YAML double-quoted scalar, every character outside printable ASCII escaped. */
export function yamlQuoted(text: string): string {
  let quoted = '"';
  for (const character of text) {
    const code = character.codePointAt(0) as number;
    if (code >= 0x20 && code < 0x7f && character !== '"' && character !== '\\') quoted += character;
    else quoted += `\\U${code.toString(16).padStart(8, '0')}`;
  }
  return `${quoted}"`;
}
