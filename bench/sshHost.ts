/** The test bed's sshd as the benchmarks reach it: OpenSSH arguments for baselines, and Lifeboat's connection in a child. */
import type { SshConnection } from '../src/clients/ssh';
import type { Sshd } from '../test/testbed/sshd';

/** What a child process needs to connect to the benchmark's sshd (passed as JSON). */
export interface ChildSshTarget {
  host: string;
  port: number;
  user: string;
  identityFile: string;
  knownHosts: string;
}

export function childSshTarget(sshd: Sshd): ChildSshTarget {
  return { host: sshd.host, port: sshd.port, user: sshd.user, identityFile: sshd.clientKey.privateKeyPath, knownHosts: sshd.knownHostsPath };
}

/** The system `ssh` with OpenSSH's own defaults (cipher included), as a person would type it, shell-quoted for a pipeline. */
export function opensshCommand(sshd: Sshd): string {
  const args = ['-p', String(sshd.port), '-i', sshd.clientKey.privateKeyPath, '-o', `UserKnownHostsFile=${sshd.knownHostsPath}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', '-F', '/dev/null', `${sshd.user}@${sshd.host}`];
  return ['ssh', ...args].map((argument) => `'${argument}'`).join(' ');
}

/** Lifeboat's SSH connection, as an action opens it (no ssh config, no agent). */
export async function connectChildSsh(target: ChildSshTarget): Promise<SshConnection> {
  const { connectSsh, resolveSshTarget } = await import('../src/clients/ssh');
  return connectSsh(await resolveSshTarget('bench', target, { env: {}, configPath: '/dev/null' }));
}
