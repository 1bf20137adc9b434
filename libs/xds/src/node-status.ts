/** What the control plane knows about each connected proxy: what `tendril status` shows. */
export interface TypeStatus {
  sentVersion?: string;
  ackedVersion?: string;
  lastAckAt?: string;
  lastNack?: { version: string; message: string; at: string };
}

export interface NodeStatus {
  nodeId: string;
  protocol: 'sotw' | 'delta';
  connected: boolean;
  connectedAt: string;
  disconnectedAt?: string;
  snapshotLabel?: string;
  types: Record<string, TypeStatus>;
}

export class NodeStatusRegistry {
  private readonly nodes = new Map<string, NodeStatus>();
  private readonly streamsPerNode = new Map<string, number>();

  constructor(private readonly clock: () => Date = () => new Date()) {}

  connected(nodeId: string, protocol: 'sotw' | 'delta'): void {
    this.streamsPerNode.set(nodeId, (this.streamsPerNode.get(nodeId) ?? 0) + 1);
    const prev = this.nodes.get(nodeId);
    this.nodes.set(nodeId, { nodeId, protocol, connected: true, connectedAt: this.now(), types: prev?.types ?? {} });
  }

  disconnected(nodeId: string): void {
    const n = (this.streamsPerNode.get(nodeId) ?? 1) - 1;
    this.streamsPerNode.set(nodeId, n);
    const s = this.nodes.get(nodeId);
    if (s && n === 0) {
      s.connected = false;
      s.disconnectedAt = this.now();
    }
  }

  sent(nodeId: string, typeUrl: string, version: string, snapshotLabel: string): void {
    const s = this.nodes.get(nodeId);
    if (!s) return;
    s.snapshotLabel = snapshotLabel;
    (s.types[typeUrl] ??= {}).sentVersion = version;
  }

  acked(nodeId: string, typeUrl: string, version: string): void {
    const t = this.typeStatus(nodeId, typeUrl);
    if (!t) return;
    t.ackedVersion = version;
    t.lastAckAt = this.now();
  }

  nacked(nodeId: string, typeUrl: string, version: string, message: string): void {
    const t = this.typeStatus(nodeId, typeUrl);
    if (t) t.lastNack = { version, message, at: this.now() };
  }

  list(): NodeStatus[] {
    return [...this.nodes.values()].map((n) => structuredClone(n));
  }

  private typeStatus(nodeId: string, typeUrl: string): TypeStatus | undefined {
    const s = this.nodes.get(nodeId);
    return s ? (s.types[typeUrl] ??= {}) : undefined;
  }

  private now(): string {
    return this.clock().toISOString();
  }
}
