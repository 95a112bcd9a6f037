/**
 * ~/.ssh/config as OpenSSH reads it (ssh_config(5)), connecting for real to a test sshd: each
 * configuration is read by OpenSSH (`ssh -G -F file`) and by the ssh-config package (no `ssh`), with a
 * configuration file or home folder of the test's own, never the ~/.ssh of the machine running it.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { appendFile, copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { connectSsh, SshError } from '../../src/clients/ssh';
import { findOpenSsh } from '../../src/clients/ssh/openssh';
import type { ResolveOptions } from '../../src/clients/ssh/target';
import { resolveSshTarget } from '../../src/clients/ssh/target';
import type { Sshd } from '../testbed/sshd';
import { generateKey, startSshd } from '../testbed/sshd';

const run = promisify(execFile);

describe('~/.ssh/config against a real sshd', function () {
  this.timeout(30_000);
  let sshd: Sshd;
  let configs = 0;

  before(async () => {
    sshd = await startSshd();
  });

  after(async () => {
    await sshd?.stop();
  });

  /** The lines that reach the test server. */
  const reach = () => ['  HostName 127.0.0.1', `  Port ${sshd.port}`, `  User ${sshd.user}`, `  IdentityFile ${sshd.clientKey.privateKeyPath}`];

  const readers: { name: string; options(): Promise<ResolveOptions> }[] = [
    {
      name: 'OpenSSH',
      async options() {
        const ssh = await findOpenSsh();
        assert.ok(ssh, 'the OpenSSH client is installed with openssh-server');
        return { ssh };
      },
    },
    { name: 'the ssh-config package', options: async () => ({ ssh: null, home: join(sshd.dir, 'home') }) },
  ];

  async function echoThrough(options: ResolveOptions, alias = 'lab'): Promise<string> {
    const target = await resolveSshTarget(alias, { knownHosts: sshd.knownHostsPath }, { env: {}, ...options });
    const connection = await connectSsh(target);
    try {
      return (await connection.run(['echo', 'reached'])).stdout ?? '';
    } finally {
      connection.dispose();
    }
  }

  async function configFile(lines: readonly string[]): Promise<string> {
    const path = join(sshd.dir, `ssh_config_${++configs}`);
    await writeFile(path, `${lines.join('\n')}\n`);
    return path;
  }

  for (const reader of readers) {
    describe(`read by ${reader.name}`, () => {
      async function connectsWith(lines: readonly string[], alias = 'lab', extra: ResolveOptions = {}): Promise<void> {
        assert.equal(await echoThrough({ ...(await reader.options()), configPath: await configFile(lines), ...extra }, alias), 'reached\n');
      }

      it('applies a Match host block (matched against the HostName)', async () => {
        await connectsWith(['Host lab', '  HostName 127.0.0.1', 'Match host 127.0.0.1', ...reach().slice(1), 'Host *', '  Port 1']);
      });

      it('applies a Match user block', async () => {
        await connectsWith(['Host lab', '  HostName 127.0.0.1', `  User ${sshd.user}`, `Match user ${sshd.user}`, `  Port ${sshd.port}`, `  IdentityFile ${sshd.clientKey.privateKeyPath}`, 'Host *', '  Port 1']);
      });

      it('follows an Include with a glob in a middle part of its path', async () => {
        await mkdir(join(sshd.dir, 'sites', 'lab'), { recursive: true });
        await writeFile(join(sshd.dir, 'sites', 'lab', 'ssh.conf'), ['Host lab', ...reach()].join('\n'));
        await connectsWith([`Include ${join(sshd.dir, 'sites', '*', 'ssh.conf')}`]);
      });

      it('expands %n, %r, %h and %p in IdentityFile', async () => {
        const keys = join(sshd.dir, 'keys', 'lab');
        await mkdir(keys, { recursive: true });
        await copyFile(sshd.clientKey.privateKeyPath, join(keys, `${sshd.user}@127.0.0.1:${sshd.port}`));
        await connectsWith(['Host lab', ...reach().slice(0, 3), `  IdentityFile ${join(sshd.dir, 'keys', '%n', '%r@%h:%p')}`]);
      });

      it('ends a Host line at a # comment', async () => {
        await connectsWith(['Host decoy # not the lab', '  Port 1', 'Host lab', ...reach()]);
      });

      it('matches Host patterns case-sensitively', async () => {
        await connectsWith(['Host LAB', '  Port 1', 'Host lab', ...reach()]);
      });

      it('honours StrictHostKeyChecking: yes never adds an unknown key, accept-new adds it without asking', async () => {
        const knownHosts = join(sshd.dir, `known_hosts_strict_${reader.name.length}`);
        const config = (strict: string) => configFile(['Host lab', ...reach(), `  UserKnownHostsFile ${knownHosts}`, `  StrictHostKeyChecking ${strict}`]);
        let asked = 0;
        const approveHostKey = async () => (++asked, true);
        const strict = await resolveSshTarget('lab', {}, { env: {}, ...(await reader.options()), configPath: await config('yes') });
        const refused = await connectSsh(strict, { approveHostKey }).catch((failure: unknown) => failure);
        assert.ok(refused instanceof SshError && refused.failure === 'host-key-unknown', String(refused));
        assert.equal(existsSync(knownHosts), false);
        const acceptNew = await resolveSshTarget('lab', {}, { env: {}, ...(await reader.options()), configPath: await config('accept-new') });
        (await connectSsh(acceptNew, { approveHostKey })).dispose();
        assert.equal(asked, 0, 'neither asks');
        assert.match(await readFile(knownHosts, 'utf8'), new RegExp(`^\\[127\\.0\\.0\\.1\\]:${sshd.port} ssh-ed25519 `));
      });

      describe('IdentitiesOnly yes with an ssh-agent holding many wrong keys', () => {
        let agent: ChildProcess | undefined;
        let socket: string;

        before(async () => {
          socket = join(sshd.dir, `agent-${reader.name.length}.sock`);
          agent = spawn('ssh-agent', ['-D', '-a', socket], { stdio: 'ignore' });
          for (let tries = 0; !existsSync(socket); tries++) {
            assert.ok(tries < 200, 'ssh-agent did not create its socket');
            await sleep(10);
          }
          // sshd allows 6 attempts (MaxAuthTries): an agent offering 7 wrong keys first uses them all up.
          for (let index = 0; index < 7; index++) {
            const wrong = await generateKey(join(sshd.dir, `wrong-${reader.name.length}-${index}`));
            await run('ssh-add', ['-q', wrong.privateKeyPath], { env: { ...process.env, SSH_AUTH_SOCK: socket } });
          }
        });

        after(() => {
          agent?.kill();
        });

        it('fails without IdentitiesOnly: the agent\'s keys are offered first', async () => {
          const error = await echoThrough({ ...(await reader.options()), configPath: await configFile(['Host lab', ...reach()]), env: { SSH_AUTH_SOCK: socket } }).catch((failure: unknown) => failure);
          assert.ok(error instanceof SshError && error.failure === 'auth', `expected an authentication failure, got ${String(error)}`);
          assert.match(error.message, /too many keys were offered \(ssh-agent, .*\).*set `IdentitiesOnly yes`/);
        });

        it('offers only the identity file', async () => {
          await connectsWith(['Host lab', ...reach(), '  IdentitiesOnly yes'], 'lab', { env: { SSH_AUTH_SOCK: socket } });
        });

        it('offers a passphrase-protected identity file through the agent, by its .pub', async () => {
          const path = join(sshd.dir, `protected-${reader.name.length}`);
          await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'lifeboat passphrase', '-C', 'protected', '-f', path]);
          const askpass = join(sshd.dir, 'askpass.sh');
          await writeFile(askpass, '#!/bin/sh\necho "lifeboat passphrase"\n', { mode: 0o700 });
          await run('ssh-add', ['-q', path], { env: { ...process.env, SSH_AUTH_SOCK: socket, SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: ':0' } });
          await appendFile(join(sshd.dir, 'authorized_keys'), `${(await run('cat', [`${path}.pub`])).stdout}`);
          await connectsWith(['Host lab', ...reach().slice(0, 3), `  IdentityFile ${path}`, '  IdentitiesOnly yes'], 'lab', { env: { SSH_AUTH_SOCK: socket } });
        });
      });
    });
  }

  it('resolves a nested relative Include against ~/.ssh when read without OpenSSH', async () => {
    const home = join(sshd.dir, 'nested-home');
    await mkdir(join(home, '.ssh', 'conf.d'), { recursive: true });
    await writeFile(join(home, '.ssh', 'config'), 'Include conf.d/*.conf\n');
    await writeFile(join(home, '.ssh', 'conf.d', 'lab.conf'), ['Host lab', '  HostName 127.0.0.1', `  User ${sshd.user}`, '  Include conf.d/lab-keys.inc'].join('\n'));
    await writeFile(join(home, '.ssh', 'conf.d', 'lab-keys.inc'), [`Port ${sshd.port}`, `IdentityFile ${sshd.clientKey.privateKeyPath}`].join('\n'));
    assert.equal(await echoThrough({ ssh: null, home }), 'reached\n');
  });
});
