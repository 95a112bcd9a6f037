import { posix } from 'node:path';
import { sshConnectionFor, type SshConnection } from '../../clients/ssh';
import type { Browser, BrowseSession } from '../../core/browse/model';
import { childPath, joinPath, type DeclaredNode, type NodeStatus, type Page, type PageRequest } from '../../core/browse/node';
import { readBackupLocations, type ListedLocation } from '../../core/locations';
import { formatAge, markdownEscape } from '../../core/render';
import { locationChildren, locationNode } from '../archive/browser';
import { CRON_PATH, runLifeboatAsCron } from '../schedule/crontab';
import { scheduleCronInstall } from '../schedule/install';
import { scheduleCronStatus, type CronStatusResult, type ScheduleState } from '../schedule/status';

export const HOSTS_ROOT = 'hosts';
const LOCATIONS = 'locations';
const SCHEDULES = 'schedules';
/** The action that copies the CLI to a host; offered when this build has it. */
const CLI_INSTALL_ACTION = 'schedule.cli.install';

type HostEntry = NonNullable<BrowseSession['ctx']['inventory']['hosts']>[string];

function hostNode(name: string, entry: HostEntry): DeclaredNode {
  const address = `${entry.user ? `${entry.user}@` : ''}${entry.host ?? name}${entry.port ? `:${entry.port}` : ''}`;
  return {
    path: joinPath(HOSTS_ROOT, name),
    kind: 'host',
    label: name,
    description: address,
    tooltip: `**Host ${markdownEscape(name)}**\n\n- ${markdownEscape(address)}${entry.proxyJump ? ` through ${markdownEscape(entry.proxyJump)}` : ''}\n- Expand to connect: reachability, host key, locations, schedules and the CLI there`,
    icon: 'server',
    status: { level: 'unknown', reason: 'not connected yet' },
    hasChildren: true,
    operations: [
      { kind: 'action', id: 'check', label: 'Check Schedules', action: scheduleCronStatus.id, params: { host: name } },
      { kind: 'action', id: 'installCli', label: 'Install the CLI…', action: CLI_INSTALL_ACTION, params: { host: name } },
      { kind: 'action', id: 'schedule', label: 'Schedule a Runbook…', action: scheduleCronInstall.id, params: { host: name } },
    ],
    facts: { name, address },
  };
}

function hostLocations(name: string, session: BrowseSession): ListedLocation[] {
  return readBackupLocations(session.ctx.inventory, session.inventoryFile).filter((location): location is ListedLocation => location.kind === 'host' && location.host === name);
}

const SCHEDULE_LOOK: Record<ScheduleState, { icon: string; level: NodeStatus['level'] }> = {
  ok: { icon: 'pass-filled', level: 'ok' },
  stale: { icon: 'warning', level: 'warning' },
  failed: { icon: 'error', level: 'error' },
  'never ran': { icon: 'warning', level: 'warning' },
  'not installed': { icon: 'circle-slash', level: 'unknown' },
};

/** `lifeboat --version` with cron's PATH, as a schedule runs it; undefined when it does not run there. */
async function cliVersion(connection: SshConnection, signal: AbortSignal): Promise<string | undefined> {
  const answer = await runLifeboatAsCron(connection, ['lifeboat'], ['--version'], signal);
  return answer.exitCode === 0 ? (answer.stdout ?? '').trim() : undefined;
}

/** Connects (which checks the host key), then: the connection, the CLI there, its locations and its schedules. */
async function hostChildren(name: string, session: BrowseSession): Promise<Page<DeclaredNode>> {
  const { ctx } = session;
  const at = joinPath(HOSTS_ROOT, name);
  const { connection, version, schedules } = await session.cached(at, async () => {
    const opened = await sshConnectionFor(ctx.clients, ctx.inventory, name, { signal: ctx.signal, approveHostKey: ctx.approveHostKey, log: ctx.log });
    const status = (await scheduleCronStatus.run(scheduleCronStatus.params.parse({ host: name }), ctx)) as CronStatusResult;
    return { connection: opened.label, version: await cliVersion(opened, ctx.signal), schedules: status };
  });
  const nodes: DeclaredNode[] = [
    {
      path: childPath(at, 'connection'),
      kind: 'host.connection',
      label: 'Reachable',
      description: `${connection} · host key verified`,
      tooltip: `Connected to ${connection}; its host key matches known_hosts.`,
      icon: 'plug',
      status: { level: 'ok', reason: 'reachable, host key verified' },
      hasChildren: false,
      facts: { host: name, reachable: true, hostKey: 'verified' },
    },
    {
      path: childPath(at, 'cli'),
      kind: 'host.cli',
      label: 'Lifeboat CLI',
      description: version ?? `not found on cron's PATH (${CRON_PATH})`,
      tooltip: version ? `\`lifeboat --version\` with cron's PATH prints ${version}` : `\`lifeboat\` does not run with cron's PATH (${CRON_PATH}): install it, or give schedules its full path`,
      icon: version ? 'terminal' : 'warning',
      status: version ? { level: 'ok', reason: version } : { level: 'warning', reason: 'the CLI is not on cron\'s PATH' },
      hasChildren: false,
      operations: [{ kind: 'action', id: 'installCli', label: 'Install the CLI…', action: CLI_INSTALL_ACTION, params: { host: name } }],
      facts: { host: name, version: version ?? null },
    },
  ];
  for (const location of hostLocations(name, session)) nodes.push(locationNode(location, ctx.inventory, session.inventoryFile, childPath(at, LOCATIONS)));
  for (const schedule of schedules.schedules) {
    const look = SCHEDULE_LOOK[schedule.state];
    const success = schedule.lastSuccess ? `last success ${formatAge(new Date(schedule.lastSuccess), new Date(schedules.checkedAt))}` : 'no success yet';
    nodes.push({
      path: childPath(at, SCHEDULES, schedule.runbook),
      kind: 'host.schedule',
      label: posix.basename(schedule.runbook),
      description: `${schedule.schedule ?? 'not scheduled'} · ${schedule.state} · ${success}`,
      tooltip: `${markdownEscape(schedule.runbook)} on ${markdownEscape(name)}: ${schedule.state}${schedule.logFile ? `; log ${markdownEscape(schedule.logFile)}` : ''}`,
      icon: look.icon,
      status: { level: look.level, reason: `${schedule.state}, ${success}` },
      hasChildren: false,
      facts: { host: name, runbook: schedule.runbook, schedule: schedule.schedule ?? null, state: schedule.state, lastSuccess: schedule.lastSuccess ?? null },
    });
  }
  return { nodes, total: nodes.length };
}

async function children(path: readonly string[], request: PageRequest, session: BrowseSession): Promise<Page<DeclaredNode>> {
  const [, name, section, locationName, ...rest] = path;
  if (name === undefined || !session.ctx.inventory.hosts?.[name] || rest.length > 0) return { nodes: [] };
  if (section === undefined) return hostChildren(name, session);
  const location = hostLocations(name, session).find((candidate) => candidate.name === locationName);
  if (section === LOCATIONS && location) return locationChildren(location, joinPath(HOSTS_ROOT, name, LOCATIONS, location.name), request, session);
  return { nodes: [] };
}

/** The SSH hosts of `hosts:`: reachability and host key, the locations on each, its schedules and its CLI. */
export const hostsBrowser: Browser = {
  root: HOSTS_ROOT,
  roots(session) {
    return Object.entries(session.ctx.inventory.hosts ?? {}).map(([name, entry]) => hostNode(name, entry));
  },
  children,
};
