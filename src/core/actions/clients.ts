/** A client that holds something open (a connection, a session) and must be closed after the run. */
export interface Disposable {
  dispose(): void | Promise<void>;
}

/**
 * The client factory of a run: a client is created on first use and shared by every later step of the
 * same run that asks for the same key (one SSH connection per host, one S3 client per store), then
 * disposed when the run ends. Creation is shared too: two steps asking at once get one client.
 */
export class ClientPool {
  private readonly clients = new Map<string, Promise<Disposable>>();

  get<Client extends Disposable>(key: string, create: () => Promise<Client>): Promise<Client> {
    let client = this.clients.get(key);
    if (!client) {
      client = create();
      this.clients.set(key, client);
      // A failed creation is not cached: the next step may try again.
      client.catch(() => this.clients.delete(key));
    }
    return client as Promise<Client>;
  }

  /** Closes every client; a failure to close one does not keep the others open. */
  async disposeAll(): Promise<void> {
    const pending = [...this.clients.values()];
    this.clients.clear();
    // A client whose creation failed has nothing to close.
    const results = await Promise.allSettled(pending.map((client) => client.then((created) => created.dispose(), () => undefined)));
    const failures = results.flatMap((result) => (result.status === 'rejected' ? [result.reason as unknown] : []));
    if (failures.length > 0) throw new AggregateError(failures, 'some clients did not close cleanly');
  }
}
