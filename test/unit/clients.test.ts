import assert from 'node:assert/strict';
import { ClientPool } from '../../src/core/actions/clients';

class Connection {
  closed = false;
  constructor(readonly host: string) {}
  dispose(): void {
    if (this.host === 'flaky') throw new Error('close failed');
    this.closed = true;
  }
}

describe('client pool', () => {
  it('creates one client per key and shares it, also between concurrent requests', async () => {
    const pool = new ClientPool();
    let created = 0;
    const connect = (host: string) => async () => {
      created++;
      return new Connection(host);
    };
    const [a, b] = await Promise.all([pool.get('ssh:nas', connect('nas')), pool.get('ssh:nas', connect('nas'))]);
    const c = await pool.get('ssh:pi', connect('pi'));
    assert.equal(a, b);
    assert.notEqual(a, c);
    assert.equal(created, 2);
  });

  it('does not keep a failed creation, so a later step can try again', async () => {
    const pool = new ClientPool();
    await assert.rejects(pool.get('ssh:nas', async () => Promise.reject(new Error('unreachable'))), /unreachable/);
    const connection = await pool.get('ssh:nas', async () => new Connection('nas'));
    assert.equal(connection.host, 'nas');
  });

  it('closes every client at the end of a run, even when one fails to close', async () => {
    const pool = new ClientPool();
    const good = await pool.get('ssh:nas', async () => new Connection('nas'));
    await pool.get('ssh:flaky', async () => new Connection('flaky'));
    void pool.get('ssh:down', async () => Promise.reject(new Error('unreachable'))).catch(() => undefined);
    await assert.rejects(pool.disposeAll(), (error: unknown) => error instanceof AggregateError && error.errors.length === 1);
    assert.equal(good.closed, true);
    let created = 0;
    await pool.get('ssh:nas', async () => {
      created++;
      return new Connection('nas');
    });
    assert.equal(created, 1, 'a disposed client is not handed out again');
  });
});
