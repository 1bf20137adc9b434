/**
 * Envoy's filter_chain_match.server_names selection: the client's SNI is matched exactly first,
 * then against wildcards from the longest suffix to the shortest (www.a.example.com tries
 * *.a.example.com, then *.example.com, then *.com), then the chain without server names takes it.
 */
export class ServerNameIndex<T> {
  private readonly exact = new Map<string, T>();
  /** Keyed by the suffix after "*" (".example.com"). */
  private readonly wildcards = new Map<string, T>();
  private fallback: T | undefined;
  private hasFallback = false;

  /** Throws when `serverNames` is malformed or repeats a name another entry already claimed. */
  add(serverNames: readonly string[], value: T): void {
    if (serverNames.length === 0) {
      if (this.hasFallback) throw new Error('more than one filter chain without server_names');
      this.fallback = value;
      this.hasFallback = true;
      return;
    }
    for (const raw of serverNames) {
      const name = raw.toLowerCase();
      const wildcard = name.startsWith('*.');
      if (name === '' || (!wildcard && name.includes('*')) || (wildcard && name.slice(1).includes('*'))) {
        throw new Error(`server_names entry "${raw}" is neither a host name nor a "*." wildcard`);
      }
      const table = wildcard ? this.wildcards : this.exact;
      const key = wildcard ? name.slice(1) : name;
      if (table.has(key)) throw new Error(`server name "${raw}" is matched by more than one filter chain`);
      table.set(key, value);
    }
  }

  /** Whether any entry satisfies `predicate`. */
  some(predicate: (value: T) => boolean): boolean {
    return [...this.exact.values(), ...this.wildcards.values(), ...(this.hasFallback ? [this.fallback as T] : [])].some(predicate);
  }

  /** The entry serving `serverName` (undefined or empty: a client that sent no SNI). */
  select(serverName: string | undefined): T | undefined {
    if (serverName) {
      const name = serverName.toLowerCase();
      const exact = this.exact.get(name);
      if (exact !== undefined) return exact;
      for (let dot = name.indexOf('.'); dot !== -1; dot = name.indexOf('.', dot + 1)) {
        const wildcard = this.wildcards.get(name.slice(dot));
        if (wildcard !== undefined) return wildcard;
      }
    }
    return this.fallback;
  }
}
