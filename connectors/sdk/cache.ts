// A short-lived read cache per connector instance: repeated reads of the same
// record (a phone ringing twice, a journey re-reading a contact) cost one CRM
// request. Concurrent reads of one key share a single request.

export class ReadCache {
  private readonly entries = new Map<string, { value: unknown; expires: number }>();
  private readonly inFlight = new Map<string, Promise<unknown>>();

  constructor(
    readonly ttlMs = 5_000,
    private readonly maxEntries = 10_000,
  ) {}

  async wrap<T>(key: string, load: () => Promise<T>): Promise<T> {
    const now = Date.now();
    const hit = this.entries.get(key);
    if (hit && hit.expires > now) return hit.value as T;
    const pending = this.inFlight.get(key);
    if (pending) return pending as Promise<T>;
    const loading = load()
      .then((value) => {
        if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
        this.entries.set(key, { value, expires: Date.now() + this.ttlMs });
        return value;
      })
      .finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, loading);
    return loading;
  }

  /** Drops every entry whose key starts with `prefix` (all when omitted); call after writes. */
  invalidate(prefix = ''): void {
    for (const key of this.entries.keys()) if (key.startsWith(prefix)) this.entries.delete(key);
  }
}
