import type { TendrilBpfAddon } from './native';

/** BPF_ANY / BPF_NOEXIST / BPF_EXIST from linux/bpf.h. */
export const UpdateFlags = { ANY: 0, NOEXIST: 1, EXIST: 2 } as const;

/**
 * One pinned BPF map opened by path: raw key/value buffers of fixed sizes. The typed maps
 * (ipcache, endpoints, policy, drop counters) encode their structs on top of this.
 */
export class BpfMap {
  private fd: number;

  constructor(
    private readonly addon: TendrilBpfAddon,
    readonly pinPath: string,
    readonly keySize: number,
    /** Bytes one lookup returns (for a per-CPU map: all CPUs' values). */
    readonly valueSize: number,
  ) {
    this.fd = addon.objGet(pinPath);
  }

  lookup(key: Buffer): Buffer | undefined {
    return this.addon.mapLookup(this.openFd(), this.checkKey(key), this.valueSize) ?? undefined;
  }

  update(key: Buffer, value: Buffer, flags: number = UpdateFlags.ANY): void {
    if (value.length !== this.valueSize) throw new Error(`${this.pinPath}: value must be ${this.valueSize} bytes, got ${value.length}`);
    this.addon.mapUpdate(this.openFd(), this.checkKey(key), value, flags);
  }

  /** false when the key was not there. */
  delete(key: Buffer): boolean {
    return this.addon.mapDelete(this.openFd(), this.checkKey(key));
  }

  /** Every key. Keys deleted while iterating may make the walk restart, as with any BPF map. */
  *keys(): IterableIterator<Buffer> {
    for (let key = this.addon.mapNextKey(this.openFd(), null, this.keySize); key; key = this.addon.mapNextKey(this.openFd(), key, this.keySize)) {
      yield key;
    }
  }

  close(): void {
    if (this.fd >= 0) this.addon.closeFd(this.fd);
    this.fd = -1;
  }

  private openFd(): number {
    if (this.fd < 0) throw new Error(`${this.pinPath}: map is closed`);
    return this.fd;
  }

  private checkKey(key: Buffer): Buffer {
    if (key.length !== this.keySize) throw new Error(`${this.pinPath}: key must be ${this.keySize} bytes, got ${key.length}`);
    return key;
  }
}
