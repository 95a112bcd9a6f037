import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import type { SshConfigQuery } from '../../src/clients/ssh/config';
import { resolveSshConfig } from '../../src/clients/ssh/config';
import { findOpenSsh } from '../../src/clients/ssh/openssh';
import { checkHostKey, hostsFieldMatches, knownKeyTypes, readKnownHosts } from '../../src/clients/ssh/knownHosts';
import { quoteShellArgument, remoteCommand } from '../../src/clients/ssh/quote';
import { resolveSshTarget, SshConfigCache } from '../../src/clients/ssh/target';
import { hostilePayloads } from '../support/payloads';

describe('SSH parts', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lifeboat-ssh-parts-'));
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  describe('remote command quoting', () => {
    it('leaves plain words bare and single-quotes everything else', () => {
      assert.equal(remoteCommand(['tar', '-C', '/srv/data', '-cf', '-', '.']), 'tar -C /srv/data -cf - .');
      assert.equal(quoteShellArgument(''), "''");
      assert.equal(quoteShellArgument("it's"), `'it'\\''s'`);
      assert.equal(quoteShellArgument('$(reboot)'), "'$(reboot)'");
    });

    it('gives every argument back unchanged when a POSIX shell splits the line', () => {
      const awkward = ['a b', "'", '"', '\\', '$HOME', '`id`', '*', '~', '#', 'x\ny', '\t', '-e', 'ä€'];
      for (let i = 0; i < 50; i++) awkward.push(randomBytes(12).toString('latin1').replaceAll('\0', ''));
      const output = execFileSync('sh', ['-c', `printf '%s\\0' ${remoteCommand(awkward)}`]);
      assert.deepEqual(output.toString('latin1').split('\0').slice(0, -1), awkward.map((argument) => Buffer.from(argument).toString('latin1')));
    });

    it('refuses what no argument can hold', () => {
      assert.throws(() => remoteCommand([]), /at least the program/);
      assert.throws(() => remoteCommand(['echo', 'a\0b']), /NUL byte/);
    });
  });

  /** The two readers of the SSH configuration: OpenSSH itself, and the ssh-config package where there is no `ssh`. */
  const readers: { name: string; query(): Promise<{ ssh: string | null; home: string }> }[] = [
    {
      name: 'OpenSSH (ssh -G)',
      async query() {
        const ssh = await findOpenSsh();
        assert.ok(ssh, 'the OpenSSH client is installed with openssh-server');
        // ssh takes ~ and %d from the account, not from $HOME; the tests never make it read files there.
        return { ssh, home: userInfo().homedir };
      },
    },
    { name: 'the ssh-config package', query: async () => ({ ssh: null, home: join(dir, 'home') }) },
  ];

  for (const reader of readers) {
    describe(`~/.ssh/config, read by ${reader.name}`, () => {
      async function resolve(config: string, alias: string, query: SshConfigQuery = {}) {
        await writeFile(join(dir, 'config'), config);
        return resolveSshConfig(alias, { configPath: join(dir, 'config'), env: {}, ...(await reader.query()), ...query });
      }

      it('takes the first value obtained, collects identity files and follows Include', async () => {
        await mkdir(join(dir, 'conf.d'));
        await writeFile(join(dir, 'conf.d', 'lab.conf'), 'Host nas\n  User backup\n  IdentityFile ~/.ssh/nas_key\n');
        const config = [
          '# personal',
          `Include ${join(dir, 'conf.d', '*.conf')}`,
          'Host nas nas.lan !nas.guest',
          '  HostName 192.168.1.10',
          '  Port=2222',
          '  User ignored-because-later',
          '  IdentityFile "%d/.ssh/id_%r_%h"',
          '  ProxyJump admin@bastion',
          'Match host nas',
          '  User never-read',
          'Host *',
          '  Port 22',
          '  IdentitiesOnly yes',
          '  UserKnownHostsFile ~/.ssh/known_hosts_lab',
        ].join('\n');
        const { home } = await reader.query();
        const nas = await resolve(config, 'nas');
        assert.deepEqual(
          { ...nas, readBy: undefined },
          {
            hostName: '192.168.1.10',
            user: 'backup',
            port: 2222,
            identityFiles: [join(home, '.ssh', 'nas_key'), join(home, '.ssh', 'id_backup_192.168.1.10')],
            proxyJump: 'admin@bastion',
            identitiesOnly: true,
            userKnownHostsFiles: [join(home, '.ssh', 'known_hosts_lab')],
            strictHostKeyChecking: 'ask',
            connectTimeoutSeconds: undefined,
            identityAgent: undefined,
            readBy: undefined,
          },
        );
        const guest = await resolve(config, 'nas.guest');
        assert.equal(guest.hostName, 'nas.guest', 'a negated pattern excludes the host');
        assert.equal(guest.port, 22);
        assert.equal(guest.user, userInfo().username, 'the local user by default');
        assert.deepEqual(guest.userKnownHostsFiles, [join(home, '.ssh', 'known_hosts_lab')]);
      });

      it('applies Match blocks: host (after HostName), originalhost, user (as ssh -l gives it), all', async () => {
        const config = [
          'Host nas',
          '  HostName 192.168.1.10',
          'Match host 192.168.1.*',
          '  Port 2222',
          'Match originalhost nas user admin',
          '  IdentityFile /keys/admin',
          'Match all',
          '  IdentityFile /keys/everyone',
        ].join('\n');
        const admin = await resolve(config, 'nas', { user: 'admin' });
        assert.equal(admin.port, 2222);
        assert.deepEqual(admin.identityFiles, ['/keys/admin', '/keys/everyone']);
        const guest = await resolve(config, 'nas', { user: 'guest' });
        assert.deepEqual(guest.identityFiles, ['/keys/everyone']);
        assert.equal((await resolve(config, 'other')).port, 22);
      });

      it('globs every part of an Include path, and an Include in a block that does not apply reads nothing', async () => {
        for (const site of ['home', 'office']) {
          await mkdir(join(dir, 'sites', site), { recursive: true });
          await writeFile(join(dir, 'sites', site, 'ssh.conf'), `Host ${site}-nas\n  Port ${site === 'home' ? 2201 : 2202}\n`);
        }
        await writeFile(join(dir, 'sites', 'elsewhere.conf'), 'Host *\n  User nobody-from-elsewhere\n');
        const config = [`Include ${join(dir, 'sites', '*', 'ssh.conf')}`, 'Host elsewhere', `  Include ${join(dir, 'never', '*.conf')} ${join(dir, 'sites', 'elsewhere.conf')}`, 'Host *', '  User everyone'].join('\n');
        assert.equal((await resolve(config, 'home-nas')).port, 2201);
        assert.equal((await resolve(config, 'office-nas')).port, 2202);
        assert.equal((await resolve(config, 'office-nas')).user, 'everyone', 'lines after an Include stay in their block');
        assert.equal((await resolve(config, 'elsewhere')).user, 'nobody-from-elsewhere');
      });

      it('expands %n, %h, %r, %p, %d, %u, %% and ~ in IdentityFile', async () => {
        const { home } = await reader.query();
        const config = ['Host lab', '  HostName 10.0.0.7', '  User ops', '  Port 2200', '  IdentityFile /keys/%n/%h_%r_%p', '  IdentityFile %d/.ssh/id_%u_100%%', '  IdentityFile ~/keys/lab'].join('\n');
        const lab = await resolve(config, 'lab');
        assert.deepEqual(lab.identityFiles, ['/keys/lab/10.0.0.7_ops_2200', join(home, '.ssh', `id_${userInfo().username}_100%`), join(home, 'keys', 'lab')]);
      });

      it('ends a Host line at a # comment, and matches host patterns case-sensitively', async () => {
        const config = ['Host decoy # the lab box', '  Port 1', 'Host NAS', '  Port 2', 'Host lab nas', '  Port 2222'].join('\n');
        assert.equal((await resolve(config, 'lab')).port, 2222, '"lab" in the comment is no pattern');
        assert.equal((await resolve(config, 'nas')).port, 2222, 'Host NAS is not nas');
        assert.equal((await resolve(config, 'NAS')).port, 2);
        assert.equal((await resolve(config, 'box')).port, 22);
      });

      it('reads the ssh_config(5) keywords Lifeboat honours', async () => {
        const config = [
          'Host *.lan',
          '  HostName %h.example.org',
          '  StrictHostKeyChecking accept-new',
          '  ConnectTimeout 7',
          '  IdentityAgent none',
          '  UserKnownHostsFile /kh/first /kh/second',
          '  ProxyJump none',
          'Host *',
          '  ProxyJump bastion',
        ].join('\n');
        const nas = await resolve(config, 'nas.lan');
        assert.equal(nas.hostName, 'nas.lan.example.org');
        assert.equal(nas.strictHostKeyChecking, 'accept-new');
        assert.equal(nas.connectTimeoutSeconds, 7);
        assert.equal(nas.identityAgent, 'none');
        assert.deepEqual(nas.userKnownHostsFiles, ['/kh/first', '/kh/second']);
        assert.equal(nas.proxyJump, undefined, 'ProxyJump none, obtained first, wins');
        assert.equal((await resolve(config, 'other')).proxyJump, 'bastion');
      });

      it('never runs a hostile host name, and refuses every one that would read as an option', async () => {
        const sentinel = join(dir, 'PWNED');
        const config = 'Host *\n  IdentityFile /keys/%n\n';
        let refused = 0;
        for (const alias of hostilePayloads(sentinel)) {
          await resolve(config, alias).then(
            (host) => assert.equal(host.identityFiles[0], `/keys/${alias}`, 'a name is only ever text'),
            (error: unknown) => {
              refused++;
              assert.ok(error instanceof Error && !error.message.includes('\n    at '), String(error));
            },
          );
        }
        assert.ok(refused > 0);
        await fc.assert(
          fc.asyncProperty(fc.string(), async (rest) => {
            await assert.rejects(resolve(config, `-${rest}`), /is not a host name or ssh alias/);
          }),
          { numRuns: 40 },
        );
        assert.equal(existsSync(sentinel), false);
      });

      it('refuses a host that would read as an option, and reports a bad configuration with its line', async () => {
        await assert.rejects(resolve('', '-oProxyCommand=touch x'), /'-oProxyCommand=touch x' is not a host name or ssh alias/);
        await assert.rejects(resolve('', 'nas\nHost'), /is not a host name/);
        await assert.rejects(resolve('Host nas\n  Port 70000\n', 'nas'), /70000/);
      });
    });
  }

  describe('~/.ssh/config without OpenSSH: Include relative to ~/.ssh', () => {
    it('resolves a nested relative Include against ~/.ssh, not the including file\'s folder', async () => {
      const home = join(dir, 'home');
      await mkdir(join(home, '.ssh', 'conf.d', 'conf.d'), { recursive: true });
      await writeFile(join(home, '.ssh', 'config'), 'Include conf.d/*.conf\n');
      await writeFile(join(home, '.ssh', 'conf.d', 'lab.conf'), 'Include conf.d/extra.conf\n');
      await writeFile(join(home, '.ssh', 'conf.d', 'extra.conf'), 'Host nas\n  Port 2222\n');
      await writeFile(join(home, '.ssh', 'conf.d', 'conf.d', 'extra.conf'), 'Host nas\n  Port 1\n');
      // ~/.ssh/config and the system file, as ssh reads them with no -F.
      const nas = await resolveSshConfig('nas', { ssh: null, home, env: {} });
      assert.equal(nas.port, 2222);
      assert.equal(nas.readBy, 'ssh-config');
    });
  });

  describe('target', () => {
    it('reads the configuration of a host once per run, and again after a failure', async () => {
      await writeFile(join(dir, 'config'), 'Host nas\n  Port 2222\n');
      const cache = new SshConfigCache();
      const query = { configPath: join(dir, 'config'), ssh: null, home: dir };
      const first = cache.resolve('nas', query);
      assert.equal(cache.resolve('nas', query), first);
      assert.notEqual(cache.resolve('nas', { ...query, port: 22 }), first, 'another port given is another question');
      assert.equal((await first).port, 2222);
      const failed = cache.resolve('-nas', query);
      await assert.rejects(failed, /not a host name/);
      assert.notEqual(cache.resolve('-nas', query).catch(() => undefined), failed);
      cache.dispose();
      assert.notEqual(cache.resolve('nas', query), first);
    });

    it('lets the inventory win over the config and builds the ProxyJump chain', async () => {
      await writeFile(join(dir, 'config'), 'Host app\n  HostName app.internal\n  User deploy\n  Port 2200\n  ProxyJump jump1,ops@jump2:2222\nHost jump1\n  HostName 10.0.0.1\n');
      for (const reader of readers) {
        const target = await resolveSshTarget('app-server', { host: 'app', user: 'root', identityFile: '/keys/app' }, { configPath: join(dir, 'config'), env: { SSH_AUTH_SOCK: '/run/agent.sock' }, ...(await reader.query()) });
        assert.equal(target.host, 'app.internal');
        assert.equal(target.user, 'root');
        assert.equal(target.port, 2200);
        assert.deepEqual(target.identityFiles, ['/keys/app']);
        assert.equal(target.agent, '/run/agent.sock');
        // The target is reached through jump2, which is reached through jump1.
        assert.equal(target.jump?.host, 'jump2');
        assert.equal(target.jump?.user, 'ops');
        assert.equal(target.jump?.port, 2222);
        assert.equal(target.jump?.jump?.host, '10.0.0.1');
        assert.equal(target.jump?.jump?.jump, undefined);
        assert.deepEqual(target.jump?.knownHostsFiles, target.knownHostsFiles);
      }
    });
  });

  describe('known_hosts', () => {
    const key = (seed: number) => Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from('ssh-ed25519'), Buffer.from([0, 0, 0, 32]), Buffer.alloc(32, seed)]);
    const hashed = (name: string) => {
      const salt = randomBytes(20);
      return `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(name).digest('base64')}`;
    };

    it('matches patterns, negations, [host]:port names and hashed names', () => {
      assert.ok(hostsFieldMatches('nas,nas.lan,192.168.1.10', 'nas.lan'));
      assert.ok(hostsFieldMatches('*.lan,!guest.lan', 'nas.lan'));
      assert.ok(!hostsFieldMatches('*.lan,!guest.lan', 'guest.lan'));
      assert.ok(hostsFieldMatches('[127.0.0.1]:2222', '[127.0.0.1]:2222'));
      assert.ok(!hostsFieldMatches('127.0.0.1', '[127.0.0.1]:2222'));
      assert.ok(hostsFieldMatches(hashed('[nas]:2222'), '[nas]:2222'));
      assert.ok(!hostsFieldMatches(hashed('[nas]:2222'), 'nas'));
    });

    it('tells known, changed, revoked and unknown keys apart', async () => {
      const file = join(dir, 'known_hosts');
      await writeFile(
        file,
        [
          '# comment',
          `nas ssh-ed25519 ${key(1).toString('base64')}`,
          `${hashed('[pi]:2222')} ssh-ed25519 ${key(2).toString('base64')}`,
          `@revoked * ssh-ed25519 ${key(9).toString('base64')}`,
          `@cert-authority *.lan ssh-ed25519 ${key(3).toString('base64')}`,
          'garbage line',
        ].join('\n'),
      );
      const entries = await readKnownHosts([file, join(dir, 'missing')]);
      assert.deepEqual(checkHostKey(entries, 'nas', 22, key(1)), { status: 'known', file, line: 2 });
      assert.deepEqual(checkHostKey(entries, 'pi', 2222, key(2)), { status: 'known', file, line: 3 });
      assert.equal(checkHostKey(entries, 'nas', 22, key(2)).status, 'changed');
      assert.equal(checkHostKey(entries, 'pi', 2222, key(1)).status, 'changed');
      assert.equal(checkHostKey(entries, 'nas', 22, key(9)).status, 'revoked');
      assert.equal(checkHostKey(entries, 'nas', 2222, key(1)).status, 'unknown', 'another port is another host');
      assert.equal(checkHostKey(entries, 'cam.lan', 22, key(3)).status, 'unknown', 'certificate authorities are not host keys');
      assert.deepEqual(knownKeyTypes(entries, 'pi', 2222), ['ssh-ed25519']);
    });
  });
});
