import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveSshConfig } from '../../src/clients/ssh/config';
import { checkHostKey, hostsFieldMatches, knownKeyTypes, readKnownHosts } from '../../src/clients/ssh/knownHosts';
import { quoteShellArgument, remoteCommand } from '../../src/clients/ssh/quote';
import { resolveSshTarget } from '../../src/clients/ssh/target';

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

  describe('~/.ssh/config', () => {
    it('takes the first value obtained, collects identity files and follows Include', async () => {
      await mkdir(join(dir, 'conf.d'));
      await writeFile(join(dir, 'conf.d', 'lab.conf'), 'Host nas\n  User backup\n  IdentityFile ~/.ssh/nas_key\n');
      await writeFile(
        join(dir, 'config'),
        [
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
        ].join('\n'),
      );
      const home = homedir();
      const nas = await resolveSshConfig('nas', join(dir, 'config'));
      assert.deepEqual(nas, {
        hostName: '192.168.1.10',
        user: 'backup',
        port: 2222,
        identityFiles: [join(home, '.ssh', 'nas_key'), join(home, '.ssh', 'id_backup_192.168.1.10')],
        proxyJump: 'admin@bastion',
        identitiesOnly: true,
        userKnownHostsFiles: [join(home, '.ssh', 'known_hosts_lab')],
        ignored: [`${join(dir, 'config')}:9: Match blocks are not evaluated`],
      });
      const guest = await resolveSshConfig('nas.guest', join(dir, 'config'));
      assert.equal(guest.hostName, undefined, 'a negated pattern excludes the host');
      assert.equal(guest.port, 22);
    });

    it('lets the inventory win over the config and builds the ProxyJump chain', async () => {
      await writeFile(join(dir, 'config'), 'Host app\n  HostName app.internal\n  User deploy\n  Port 2200\n  ProxyJump jump1,ops@jump2:2222\nHost jump1\n  HostName 10.0.0.1\n');
      const target = await resolveSshTarget('app-server', { host: 'app', user: 'root', identityFile: '/keys/app' }, { configPath: join(dir, 'config'), env: { SSH_AUTH_SOCK: '/run/agent.sock' } });
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
