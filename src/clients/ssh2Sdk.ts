/**
 * ssh2, as the SSH client uses it. In the shipped extension and CLI this is a bundle of its own
 * (`dist/ssh2.js`) that Node reads only when a host is first connected to; inlined, it would be
 * compiled with everything else at every start.
 */
export { Client, OpenSSHAgent, utils } from 'ssh2';
