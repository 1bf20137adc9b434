import { isFlexibleRequest, type KafkaRequest } from './kafka-wire';

/**
 * The response the proxy injects for a denied request (policy-semantics.md §4 "Denial"): same
 * correlation id, error 29 TOPIC_AUTHORIZATION_FAILED on every topic/partition the request named
 * (top-level error for find coordinator). Built for every version whose response names topics the
 * way the request did — all kafkajs sends, and the flexible ones librdkafka and the Java client use
 * up to where responses switch to topic ids or batched groups/keys; for others, and for keys
 * without a denial response, there is none and the request is just dropped.
 */

export const KAFKA_TOPIC_AUTHORIZATION_FAILED = 29;

/** Newest version whose denial response this module builds, per api key. */
export const KAFKA_DENIAL_NEWEST_VERSION: Readonly<Record<number, number>> = { 0: 12, 1: 12, 2: 9, 3: 12, 8: 9, 9: 7, 10: 3 };

/** Writes a response body in the request's encoding: classic, or flexible (compact lengths, tagged fields). */
class ResponseWriter {
  private readonly parts: Buffer[] = [];
  constructor(private readonly flexible: boolean) {}
  private uvarint(v: number): this {
    const bytes: number[] = [];
    for (; v >= 0x80; v = Math.floor(v / 128)) bytes.push((v % 128) | 0x80);
    bytes.push(v);
    return this.raw(Buffer.from(bytes));
  }
  /** Tagged fields of a struct: always none. */
  tags(): this {
    return this.flexible ? this.uvarint(0) : this;
  }
  emptyArray(): this {
    return this.flexible ? this.uvarint(1) : this.int32(0);
  }
  int8(v: number): this { const b = Buffer.alloc(1); b.writeInt8(v); this.parts.push(b); return this; }
  int16(v: number): this { const b = Buffer.alloc(2); b.writeInt16BE(v); this.parts.push(b); return this; }
  int32(v: number): this { const b = Buffer.alloc(4); b.writeInt32BE(v); this.parts.push(b); return this; }
  int64(v: bigint): this { const b = Buffer.alloc(8); b.writeBigInt64BE(v); this.parts.push(b); return this; }
  string(s: string | null): this {
    if (this.flexible) {
      if (s === null) return this.uvarint(0);
      const b = Buffer.from(s, 'utf8');
      return this.uvarint(b.length + 1).raw(b);
    }
    if (s === null) return this.int16(-1);
    const b = Buffer.from(s, 'utf8');
    return this.int16(b.length).raw(b);
  }
  raw(b: Buffer): this { this.parts.push(b); return this; }
  /** An array of structs, each closed by its tagged fields. */
  array<T>(items: readonly T[], write: (item: T) => void): this {
    if (this.flexible) this.uvarint(items.length + 1);
    else this.int32(items.length);
    for (const item of items) {
      write(item);
      this.tags();
    }
    return this;
  }
  /**
   * The response frame: size prefix, header (correlation id; v1 adds tagged fields for flexible
   * responses), then the body closed by its tagged fields.
   */
  frame(correlationId: number): Buffer {
    this.tags();
    const body = Buffer.concat(this.parts);
    const head = Buffer.alloc(this.flexible ? 9 : 8);
    head.writeInt32BE(body.length + head.length - 4, 0);
    head.writeInt32BE(correlationId, 4);
    return Buffer.concat([head, body]);
  }
}

const ERR = KAFKA_TOPIC_AUTHORIZATION_FAILED;

/**
 * The denial response for a request, or null when the key has none (the request is dropped
 * silently), the version is newer than KAFKA_DENIAL_NEWEST_VERSION, or the parser could not read
 * the request's topics (a response naming none of them would look like a success).
 */
export function kafkaDenialResponse(request: KafkaRequest): Buffer | null {
  const { apiKey, apiVersion: v } = request.facts;
  const newest = KAFKA_DENIAL_NEWEST_VERSION[apiKey];
  if (newest === undefined || v > newest || !request.topicsKnown) return null;
  const topics = request.topicPartitions === 'all' ? [] : request.topicPartitions;
  const w = new ResponseWriter(isFlexibleRequest(apiKey, v));
  switch (apiKey) {
    case 0: // Produce
      w.array(topics, (t) => {
        w.string(t.name).array(t.partitions, (p) => {
          w.int32(p).int16(ERR).int64(-1n);
          if (v >= 2) w.int64(-1n); // log_append_time_ms
          if (v >= 5) w.int64(-1n); // log_start_offset
          if (v >= 8) w.emptyArray().string(null); // record_errors, error_message
        });
      });
      if (v >= 1) w.int32(0); // throttle_time_ms
      break;
    case 1: // Fetch
      if (v >= 1) w.int32(0);
      if (v >= 7) w.int16(0).int32(0); // error_code, session_id
      w.array(topics, (t) => {
        w.string(t.name).array(t.partitions, (p) => {
          w.int32(p).int16(ERR).int64(-1n);
          if (v >= 4) w.int64(-1n); // last_stable_offset
          if (v >= 5) w.int64(-1n); // log_start_offset
          if (v >= 4) w.emptyArray(); // aborted_transactions
          if (v >= 11) w.int32(-1); // preferred_read_replica
          w.emptyArray(); // records: empty bytes encode like an empty array
        });
      });
      break;
    case 2: // ListOffsets
      if (v >= 2) w.int32(0);
      w.array(topics, (t) => {
        w.string(t.name).array(t.partitions, (p) => {
          w.int32(p).int16(ERR);
          if (v === 0) w.emptyArray(); // old_style_offsets
          else w.int64(-1n).int64(-1n); // timestamp, offset
          if (v >= 4) w.int32(-1); // leader_epoch
        });
      });
      break;
    case 3: // Metadata: no brokers, every named topic unauthorised
      if (v >= 3) w.int32(0);
      w.emptyArray(); // brokers
      if (v >= 2) w.string(null); // cluster_id
      if (v >= 1) w.int32(-1); // controller_id
      w.array(topics, (t) => {
        w.int16(ERR).string(t.name);
        if (v >= 10) w.raw(Buffer.alloc(16)); // topic_id: the zero uuid, as for a topic the client may not see
        if (v >= 1) w.int8(0); // is_internal
        w.emptyArray(); // partitions
        if (v >= 8) w.int32(-2147483648); // topic_authorized_operations
      });
      if (v >= 8 && v <= 10) w.int32(-2147483648); // cluster_authorized_operations
      break;
    case 8: // OffsetCommit
      if (v >= 3) w.int32(0);
      w.array(topics, (t) => {
        w.string(t.name).array(t.partitions, (p) => {
          w.int32(p).int16(ERR);
        });
      });
      break;
    case 9: // OffsetFetch
      if (v >= 3) w.int32(0);
      w.array(topics, (t) => {
        w.string(t.name).array(t.partitions, (p) => {
          w.int32(p).int64(-1n);
          if (v >= 5) w.int32(-1); // committed_leader_epoch
          w.string(null).int16(ERR);
        });
      });
      // A request for every topic has no topic to carry the error: it goes top level.
      if (v >= 2) w.int16(request.topicPartitions === 'all' ? ERR : 0);
      break;
    case 10: // FindCoordinator
      if (v >= 1) w.int32(0);
      w.int16(ERR);
      if (v >= 1) w.string(null); // error_message
      w.int32(-1).string('').int32(-1); // node_id, host, port
      break;
  }
  return w.frame(request.correlationId);
}
