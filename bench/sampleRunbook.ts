/** One section of a typical runbook: prose, a list, an action cell, a table, a shell cell and other fences. */
const SECTION = `## Restore the {n}th volume

Before restoring, check that the **backup location** is mounted and that nothing writes to the
target. The restore replaces the files in place; the plan below shows which ones.

- Stop the application: \`kubectl scale deploy/app --replicas=0\`
- Check free space on the target host
- Keep the old data until the restore is verified

\`\`\`lifeboat {id=list{n}}
action: archive.list
location: /srv/backups/app
prefix: app
\`\`\`

| host | path | retention |
|------|------|-----------|
| nas  | /srv/backups/app | 7 |
| pi5  | /mnt/ssd/backups | 3 |

\`\`\`bash {name="Check space"}
df -h /srv
du -sh /srv/app/* | sort -h | tail -5
\`\`\`

> **Note**: the archive keeps file modes; ownership is not restored.

\`\`\`yaml
schedule: "0 3 * * *"
keep: 7
\`\`\`

`;

/** A runbook of at least `bytes` characters: frontmatter, then SECTION repeated. */
export function runbookOfSize(bytes: number): string {
  let text = '---\ntitle: Benchmark runbook\nparams:\n  date: { type: date, format: YYYYMMDD }\n---\n\n# Runbook\n\n';
  for (let n = 1; text.length < bytes; n++) text += SECTION.replaceAll('{n}', String(n));
  return text;
}
