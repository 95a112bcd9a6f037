import * as vscode from 'vscode';
import type { UnknownHostKey } from '../core/actions/spec';

/**
 * Asks once about an SSH host key no known_hosts file lists. Trusting it adds the key to known_hosts,
 * so the host is never asked about again; a changed key is never asked about, it always fails.
 */
export async function approveHostKey(key: UnknownHostKey): Promise<boolean> {
  const choice = await vscode.window.showWarningMessage(
    `The SSH host key of ${key.host} is not known. Trust it?`,
    {
      modal: true,
      detail: `${key.keyType} ${key.fingerprint}\n\nCompare it with the key on the host (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub). Trusting adds this line to ${key.knownHostsFile}:\n${key.knownHostsLine}`,
    },
    'Trust and Connect',
  );
  return choice === 'Trust and Connect';
}
