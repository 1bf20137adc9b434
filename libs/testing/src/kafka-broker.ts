import * as net from 'node:net';
import type { AddressInfo } from 'node:net';

/**
 * A single-node Kafka broker for tests. No Kafka broker (nor a JVM) exists on these machines, so
 * this speaks just enough of the wire protocol for kafkajs 2 to produce to and consume from
 * in-memory topics, consumer groups included: ApiVersions, Metadata, Produce, Fetch, ListOffsets, CreateTopics,
 * FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch, each
 * in exactly one version (the newest kafkajs sends, so the client sends those; librdkafka's
 * metadata v4 and list offsets v2 share those layouts, which is enough for kcat). Record batches
 * are stored as the producer sent them, renumbered from the partition's next offset. Groups are
 * single-generation: every join gets the current members back at once, the first member leads.
 * Its own codec on purpose: tests of the proxy's parser must not be checked against itself.
 */

/** A request the broker received. */
export interface KafkaBrokerRequest {
  apiKey: number;
  apiVersion: number;
  correlationId: number;
  clientId: string | null;
  /** Topics named by produce/fetch/list offsets/metadata/offset commit/offset fetch; 'all' for a metadata request for every topic. */
  topics: string[] | 'all';
}

export interface KafkaTestBrokerOptions {
  host?: string;
  /** Default: any free port. */
  port?: number;
  /** Topics that exist from the start, with their partition counts (default: none; topics are created on first metadata request with one partition). */
  topics?: Record<string, number>;
}

export interface KafkaTestBroker {
  host: string;
  port: number;
  /** `host:port`, for kafkajs's `brokers`. */
  address: string;
  /**
   * Makes Metadata and FindCoordinator name this address for the broker instead of its own, so
   * clients bootstrapped through a proxy in front of it keep going through that proxy.
   */
  advertise(host: string, port: number): void;
  /** Every request in arrival order. */
  readonly requests: readonly KafkaBrokerRequest[];
  /** Raw bytes each connection sent, in order (one Buffer per connection). */
  readonly received: readonly Buffer[];
  close(): Promise<void>;
}

/** The versions served, per api key: kafkajs picks the newest it knows within [min, max]. */
const SERVED_VERSIONS: Readonly<Record<number, number>> = { 0: 7, 1: 11, 2: 3, 3: 6, 8: 5, 9: 4, 10: 2, 11: 5, 12: 3, 13: 2, 14: 3, 18: 2, 19: 3 };

const TOPIC_ALREADY_EXISTS = 36;

const UNSUPPORTED_VERSION = 35;
const UNKNOWN_TOPIC_OR_PARTITION = 3;
const OFFSET_OUT_OF_RANGE = 1;

class Reader {
  constructor(private readonly buf: Buffer, public offset = 0) {}
  int8(): number { return this.buf.readInt8(this.offset++); }
  int16(): number { const v = this.buf.readInt16BE(this.offset); this.offset += 2; return v; }
  int32(): number { const v = this.buf.readInt32BE(this.offset); this.offset += 4; return v; }
  int64(): bigint { const v = this.buf.readBigInt64BE(this.offset); this.offset += 8; return v; }
  string(): string | null {
    const n = this.int16();
    if (n < 0) return null;
    const s = this.buf.toString('utf8', this.offset, this.offset + n);
    this.offset += n;
    return s;
  }
  bytes(): Buffer | null {
    const n = this.int32();
    if (n < 0) return null;
    const b = this.buf.subarray(this.offset, this.offset + n);
    this.offset += n;
    return b;
  }
  array<T>(element: () => T): T[] | null {
    const n = this.int32();
    if (n < 0) return null;
    const out: T[] = [];
    for (let i = 0; i < n; i++) out.push(element());
    return out;
  }
}

class Writer {
  private readonly parts: Buffer[] = [];
  int8(v: number): this { const b = Buffer.alloc(1); b.writeInt8(v); this.parts.push(b); return this; }
  int16(v: number): this { const b = Buffer.alloc(2); b.writeInt16BE(v); this.parts.push(b); return this; }
  int32(v: number): this { const b = Buffer.alloc(4); b.writeInt32BE(v); this.parts.push(b); return this; }
  int64(v: bigint): this { const b = Buffer.alloc(8); b.writeBigInt64BE(v); this.parts.push(b); return this; }
  string(s: string | null): this {
    if (s === null) return this.int16(-1);
    const b = Buffer.from(s, 'utf8');
    this.int16(b.length);
    this.parts.push(b);
    return this;
  }
  bytes(b: Buffer | null): this {
    if (b === null) return this.int32(-1);
    this.int32(b.length);
    this.parts.push(b);
    return this;
  }
  array<T>(items: readonly T[], write: (item: T) => void): this {
    this.int32(items.length);
    for (const item of items) write(item);
    return this;
  }
  toBuffer(): Buffer { return Buffer.concat(this.parts); }
}

interface Partition {
  /** Record batches with their base offsets rewritten; each batch's record count from lastOffsetDelta. */
  batches: { baseOffset: bigint; count: bigint; bytes: Buffer }[];
  next: bigint;
}

interface Group {
  generation: number;
  members: Map<string, { protocols: Map<string, Buffer> }>;
  leader: string | null;
  protocol: string | null;
  assignments: Map<string, Buffer>;
  offsets: Map<string, bigint>;
}

export async function startKafkaTestBroker(options: KafkaTestBrokerOptions = {}): Promise<KafkaTestBroker> {
  const host = options.host ?? '127.0.0.1';
  const topics = new Map<string, Partition[]>();
  const newPartitions = (n: number): Partition[] => Array.from({ length: n }, () => ({ batches: [], next: 0n }));
  for (const [name, count] of Object.entries(options.topics ?? {})) topics.set(name, newPartitions(count));
  const groups = new Map<string, Group>();
  const requests: KafkaBrokerRequest[] = [];
  const received: Buffer[] = [];
  const sockets = new Set<net.Socket>();
  let memberSeq = 0;
  let port = 0;
  const advertised = { host, port: 0 };

  const group = (id: string): Group => {
    let g = groups.get(id);
    if (!g) {
      g = { generation: 0, members: new Map(), leader: null, protocol: null, assignments: new Map(), offsets: new Map() };
      groups.set(id, g);
    }
    return g;
  };

  /** Handles one request body and resolves to the response body (what follows the correlation id); fetch may wait for data first. */
  const handle = async (key: number, version: number, r: Reader, seen: KafkaBrokerRequest): Promise<Buffer> => {
    const w = new Writer();
    const served = SERVED_VERSIONS[key];
    if (key === 18) {
      // ApiVersions answers any version with v0's layout up to its error so old clients can downgrade.
      w.int16(version <= 2 ? 0 : UNSUPPORTED_VERSION);
      // Each key is offered from version 0 so that librdkafka (kcat) enables its features; clients
      // pick the highest version both sides know, which is the served one for kafkajs and
      // librdkafka alike (librdkafka 2.0 stops at metadata v4 and list offsets v2, which are served too).
      w.array(Object.entries(SERVED_VERSIONS), ([k, max]) => w.int16(Number(k)).int16(0).int16(max));
      if (version >= 1) w.int32(0);
      return w.toBuffer();
    }
    // Versions whose request and response layouts equal the served one's (metadata v4 lacks only offline replicas, handled there).
    const accepted = served === version || (key === 3 && version >= 4 && version <= 6) || (key === 2 && version === 2);
    if (served === undefined || !accepted) throw new Error(`test broker serves api key ${key} only in version ${served}, got ${version}`);
    switch (key) {
      case 3: { // Metadata v4–v6 (one request layout)
        const names = r.array(() => r.string() as string);
        r.int8(); // allow_auto_topic_creation
        seen.topics = names ?? 'all';
        for (const name of names ?? []) if (!topics.has(name)) topics.set(name, newPartitions(1));
        const listed = names ?? [...topics.keys()];
        return metadataResponse(advertised.host, advertised.port, listed, topics, version);
      }
      case 0: { // Produce v7
        r.string(); // transactional_id
        r.int16(); // acks
        r.int32(); // timeout
        const produced = r.array(() => ({ name: r.string() as string, partitions: r.array(() => ({ index: r.int32(), records: r.bytes() })) ?? [] })) ?? [];
        seen.topics = produced.map((t) => t.name);
        w.array(produced, (t) => {
          w.string(t.name).array(t.partitions, (p) => {
            const partition = topics.get(t.name)?.[p.index];
            if (!partition) {
              w.int32(p.index).int16(UNKNOWN_TOPIC_OR_PARTITION).int64(-1n).int64(-1n).int64(-1n);
              return;
            }
            const base = partition.next;
            const records = p.records ?? Buffer.alloc(0);
            for (let at = 0; at + 61 <= records.length;) {
              const length = records.readInt32BE(at + 8);
              const batch = Buffer.from(records.subarray(at, at + 12 + length));
              const count = BigInt(batch.readInt32BE(23) + 1); // lastOffsetDelta + 1
              batch.writeBigInt64BE(partition.next, 0); // base offset is outside the batch CRC
              partition.batches.push({ baseOffset: partition.next, count, bytes: batch });
              partition.next += count;
              at += 12 + length;
            }
            w.int32(p.index).int16(0).int64(base).int64(-1n).int64(0n);
          });
        }).int32(0);
        return w.toBuffer();
      }
      case 1: { // Fetch v11
        r.int32(); // replica_id
        const maxWaitMs = r.int32();
        r.int32(); // min_bytes
        r.int32(); // max_bytes
        r.int8(); // isolation_level
        r.int32(); // session_id
        r.int32(); // session_epoch
        const wanted = r.array(() => ({
          name: r.string() as string,
          partitions: r.array(() => {
            const index = r.int32();
            r.int32(); // current_leader_epoch
            const offset = r.int64();
            r.int64(); // log_start_offset
            r.int32(); // partition_max_bytes
            return { index, offset };
          }) ?? [],
        })) ?? [];
        seen.topics = wanted.map((t) => t.name);
        const hasData = (): boolean => wanted.some((t) => t.partitions.some((p) => (topics.get(t.name)?.[p.index]?.next ?? 0n) > p.offset));
        // Long poll as Kafka does, so an idle consumer does not spin; a produce ends the wait early.
        for (let waited = 0; !hasData() && waited < Math.min(maxWaitMs, 1000); waited += 20) await new Promise((res) => setTimeout(res, 20));
        w.int32(0).int16(0).int32(0);
        w.array(wanted, (t) => {
          w.string(t.name).array(t.partitions, (p) => {
            const partition = topics.get(t.name)?.[p.index];
            const error = !partition ? UNKNOWN_TOPIC_OR_PARTITION : p.offset > partition.next ? OFFSET_OUT_OF_RANGE : 0;
            const hw = partition?.next ?? -1n;
            w.int32(p.index).int16(error).int64(hw).int64(hw).int64(0n).int32(0).int32(-1);
            const batches = partition?.batches.filter((b) => b.baseOffset + b.count > p.offset) ?? [];
            w.bytes(Buffer.concat(batches.map((b) => b.bytes)));
          });
        });
        return w.toBuffer();
      }
      case 2: { // ListOffsets v3
        r.int32();
        r.int8();
        const wanted = r.array(() => ({ name: r.string() as string, partitions: r.array(() => ({ index: r.int32(), timestamp: r.int64() })) ?? [] })) ?? [];
        seen.topics = wanted.map((t) => t.name);
        w.int32(0).array(wanted, (t) => {
          w.string(t.name).array(t.partitions, (p) => {
            const partition = topics.get(t.name)?.[p.index];
            if (!partition) w.int32(p.index).int16(UNKNOWN_TOPIC_OR_PARTITION).int64(-1n).int64(-1n);
            // -2 asks for the earliest offset, anything else (-1 latest, timestamps) gets the end here.
            else w.int32(p.index).int16(0).int64(-1n).int64(p.timestamp === -2n ? 0n : partition.next);
          });
        });
        return w.toBuffer();
      }
      case 19: { // CreateTopics v3: new topics get their partition count (1 when -1); existing ones TOPIC_ALREADY_EXISTS
        const requested = r.array(() => {
          const name = r.string() as string;
          const count = r.int32();
          r.int16(); // replication_factor
          r.array(() => (r.int32(), r.array(() => r.int32()))); // assignments
          r.array(() => (r.string(), r.string())); // configs
          return { name, count };
        }) ?? [];
        seen.topics = requested.map((t) => t.name);
        w.int32(0).array(requested, (t) => {
          const exists = topics.has(t.name);
          if (!exists) topics.set(t.name, newPartitions(t.count > 0 ? t.count : 1));
          w.string(t.name).int16(exists ? TOPIC_ALREADY_EXISTS : 0).string(null);
        });
        return w.toBuffer();
      }
      case 10: // FindCoordinator v2: this broker coordinates everything
        r.string();
        w.int32(0).int16(0).string(null).int32(0).string(advertised.host).int32(advertised.port);
        return w.toBuffer();
      case 11: { // JoinGroup v5
        const g = group(r.string() as string);
        r.int32(); // session_timeout
        r.int32(); // rebalance_timeout
        let memberId = r.string() as string;
        r.string(); // group_instance_id
        r.string(); // protocol_type
        const protocols = r.array(() => [r.string() as string, r.bytes() ?? Buffer.alloc(0)] as const) ?? [];
        if (memberId === '') memberId = `member-${++memberSeq}`;
        g.members.set(memberId, { protocols: new Map(protocols) });
        g.generation++;
        g.leader ??= memberId;
        g.protocol = protocols[0]?.[0] ?? null;
        const isLeader = g.leader === memberId;
        w.int32(0).int16(0).int32(g.generation).string(g.protocol).string(g.leader).string(memberId);
        w.array(isLeader ? [...g.members] : [], ([id, m]) => w.string(id).string(null).bytes(m.protocols.get(g.protocol as string) ?? Buffer.alloc(0)));
        return w.toBuffer();
      }
      case 14: { // SyncGroup v3
        const g = group(r.string() as string);
        r.int32();
        const memberId = r.string() as string;
        r.string();
        for (const a of r.array(() => [r.string() as string, r.bytes() ?? Buffer.alloc(0)] as const) ?? []) g.assignments.set(a[0], a[1]);
        w.int32(0).int16(0).bytes(g.assignments.get(memberId) ?? Buffer.alloc(0));
        return w.toBuffer();
      }
      case 12: // Heartbeat v3
        w.int32(0).int16(0);
        return w.toBuffer();
      case 13: { // LeaveGroup v2
        const g = group(r.string() as string);
        const memberId = r.string() as string;
        g.members.delete(memberId);
        if (g.leader === memberId) g.leader = g.members.keys().next().value ?? null;
        w.int32(0).int16(0);
        return w.toBuffer();
      }
      case 8: { // OffsetCommit v5
        const g = group(r.string() as string);
        r.int32();
        r.string();
        const committed = r.array(() => ({ name: r.string() as string, partitions: r.array(() => ({ index: r.int32(), offset: r.int64(), metadata: r.string() })) ?? [] })) ?? [];
        seen.topics = committed.map((t) => t.name);
        for (const t of committed) for (const p of t.partitions) g.offsets.set(`${t.name}/${p.index}`, p.offset);
        w.int32(0).array(committed, (t) => w.string(t.name).array(t.partitions, (p) => w.int32(p.index).int16(0)));
        return w.toBuffer();
      }
      case 9: { // OffsetFetch v4
        const g = group(r.string() as string);
        const wanted = r.array(() => ({ name: r.string() as string, partitions: r.array(() => r.int32()) ?? [] }));
        seen.topics = wanted ? wanted.map((t) => t.name) : 'all';
        w.int32(0).array(wanted ?? [], (t) => w.string(t.name).array(t.partitions, (p) => w.int32(p).int64(g.offsets.get(`${t.name}/${p}`) ?? -1n).string('').int16(0)));
        w.int16(0);
        return w.toBuffer();
      }
      default:
        throw new Error(`test broker does not serve api key ${key}`);
    }
  };

  const server = net.createServer((socket) => {
    sockets.add(socket);
    const chunks: Buffer[] = [];
    received.push(Buffer.alloc(0));
    const connection = received.length - 1;
    let pending = Buffer.alloc(0);
    // Kafka answers a connection's requests in order: queue them.
    let queue = Promise.resolve();
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk) => {
      chunks.push(chunk);
      received[connection] = Buffer.concat(chunks);
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 4 && pending.length >= 4 + pending.readInt32BE(0)) {
        const frame = pending.subarray(4, 4 + pending.readInt32BE(0));
        pending = pending.subarray(4 + frame.length);
        const r = new Reader(frame);
        const apiKey = r.int16();
        const apiVersion = r.int16();
        const correlationId = r.int32();
        const clientId = r.string();
        const seen: KafkaBrokerRequest = { apiKey, apiVersion, correlationId, clientId, topics: [] };
        requests.push(seen);
        queue = queue.then(async () => {
          try {
            const body = await handle(apiKey, apiVersion, r, seen);
            const head = Buffer.alloc(8);
            head.writeInt32BE(body.length + 4, 0);
            head.writeInt32BE(correlationId, 4);
            if (!socket.destroyed) socket.write(Buffer.concat([head, body]));
          } catch {
            // A request this broker cannot answer: Kafka closes the connection too.
            socket.destroy();
          }
        });
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  advertised.port = port;
  return {
    host,
    port,
    address: `${host}:${port}`,
    advertise: (advertisedHost, advertisedPort) => {
      advertised.host = advertisedHost;
      advertised.port = advertisedPort;
    },
    requests,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Metadata v4–v6 response (v5 added offline replicas): this broker as node 0, leader of every partition. */
function metadataResponse(host: string, port: number, names: readonly string[], topics: Map<string, Partition[]>, version: number): Buffer {
  const w = new Writer();
  w.int32(0); // throttle
  w.array([0], (id) => w.int32(id).string(host).int32(port).string(null));
  w.string('tendril-test').int32(0);
  w.array(names, (name) => {
    const parts = topics.get(name) ?? [];
    w.int16(parts.length ? 0 : UNKNOWN_TOPIC_OR_PARTITION).string(name).int8(0);
    w.array(parts.map((_, i) => i), (i) => {
      w.int16(0).int32(i).int32(0).array([0], (n) => w.int32(n)).array([0], (n) => w.int32(n));
      if (version >= 5) w.array([], () => undefined);
    });
  });
  return w.toBuffer();
}
