/**
 * Canary secrets: values chosen to be hard to mask, handed to Lifeboat as secrets by the tests so
 * that any of them found in an output, a log or a run record is a leak. Each is at least the masked
 * minimum (4 characters).
 */
export const CANARIES = {
  /** A double quote, a backslash and a single quote: escaped differently by JSON, URLs and shells. */
  quoted: 'q"uo\\te\'d-canary-Ω',
  /** Printed line by line it must still be masked; every line is long enough to be masked alone. */
  multiLine: '-----BEGIN CANARY-----\nmu1ti-line-one-4f2a\nmu1ti-line-two-8c3e\n-----END CANARY-----',
  /** Non-ASCII and an astral character: `\uXXXX` and surrogate pairs in ASCII JSON. */
  unicode: 'пароль-🔑-密码-canary',
  /** As short as masking allows, and the size of a file the tests archive: the size must survive. */
  numeric: '9999',
} as const;

/**
 * Every secret value the suite hands to Lifeboat, for the sweep of all run records: the canaries,
 * and the tokens of the CLI tests (test/unit/cli.test.ts, test/integration/cli-secrets-ssh.test.ts).
 */
export const SUITE_SECRETS: Readonly<Record<string, string>> = { ...CANARIES, cliParameterToken: 's3cr3t-value', sshToken: 'tk-7f3a9c-never-shown' };

/**
 * The forms a secret is printed in, worked out here independently of Lifeboat's own list: as is,
 * JSON-escaped (as Node and as Python print it), percent-encoded, single-quoted for a shell, and each
 * line of a multi-line value with at least 8 characters.
 */
export function printedFormsOf(secret: string): string[] {
  const escaped = (value: string) => {
    const json = JSON.stringify(value).slice(1, -1);
    return [value, json, json.replace(/[\u0080-\uffff]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`), encodeURIComponent(value), value.replace(/'/g, `'\\''`)];
  };
  const lines = secret.includes('\n') ? secret.split('\n').filter((line) => line.trim().length >= 8) : [];
  return [...new Set([...escaped(secret), ...lines.flatMap(escaped)])];
}

/** Where each canary shows in `text`, in any printed form: `<canary name> as <form>` once per occurrence. */
export function canaryOccurrences(text: string, canaries: Readonly<Record<string, string>> = CANARIES): string[] {
  const found: string[] = [];
  for (const [name, secret] of Object.entries(canaries)) {
    for (const form of printedFormsOf(secret)) {
      for (let at = text.indexOf(form); at !== -1; at = text.indexOf(form, at + 1)) found.push(`${name} as ${JSON.stringify(form)} at ${at}`);
    }
  }
  return found;
}

/** What Lifeboat writes of its own into a run record (times, ids, durations): no secret can be there. */
const RECORD_METADATA = ['time', 'run', 'runStartedAt', 'durationMs', 'user', 'host'];

/**
 * A run record line as scanned for canaries: without its metadata, where a 4-digit canary could
 * appear by chance (in a run id or a duration). A line that is not JSON is scanned whole.
 */
export function recordForScan(line: string): string {
  try {
    const record = JSON.parse(line) as Record<string, unknown>;
    for (const key of RECORD_METADATA) delete record[key];
    return JSON.stringify(record);
  } catch {
    return line;
  }
}
