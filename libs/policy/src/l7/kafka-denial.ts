import type { KafkaRequest } from './kafka-wire';

/**
 * The response the proxy injects for a denied request (policy-semantics.md §4 "Denial"): same
 * correlation id, error 29 TOPIC_AUTHORIZATION_FAILED on every topic/partition the request named
 * (top-level error for find coordinator). Only the non-flexible versions are built — every
 * version kafkajs sends and the older ones librdkafka falls back to; for others, and for keys
 * without a denial response, there is no response and the request is just dropped.
 */

export const KAFKA_TOPIC_AUTHORIZATION_FAILED = 29;

/** Newest version whose denial response this module builds, per api key. */
export const KAFKA_DENIAL_NEWEST_VERSION: Readonly<Record<number, number>> = { 0: 8, 1: 11, 2: 5, 3: 8, 8: 7, 9: 5, 10: 2 };

class ResponseWriter {
  private readonly parts: Buffer[] = [];
  int8(v: number): this { const b = Buffer.alloc(1); b.writeInt8(v); this.parts.push(b); return this; }
  int16(v: number): this { const b = Buffer.alloc(2); b.writeInt16BE(v); this.parts.push(b); return this; }
  int32(v: number): this { const b = Buffer.alloc(4); b.writeInt32BE(v); this.parts.push(b); return this; }
  int64(v: bigint): this { const b = Buffer.alloc(8); b.writeBigInt64BE(v); this.parts.push(b); return this; }
  string(s: string | null): this {
    if (s === null) return this.int16(-1);
    const b = Buffer.from(s, 'utf8');
    return this.int16(b.length).raw(b);
  }
  raw(b: Buffer): this { this.parts.push(b); return this; }
  array<T>(items: readonly T[], write: (item: T) => void): this {
    this.int32(items.length);
    for (const item of items) write(item);
    return this;
  }
  /** The response frame: size prefix, header v0 (correlation id), body. */
  frame(correlationId: number): Buffer {
    const body = Buffer.concat(this.parts);
    const head = Buffer.alloc(8);
    head.writeInt32BE(body.length + 4, 0);
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
  const w = new ResponseWriter();
  switch (apiKey) {
    case 0: // Produce
      w.array(topics, (t) => {
        w.string(t.name).array(t.partitions, (p) => {
          w.int32(p).int16(ERR).int64(-1n);
          if (v >= 2) w.int64(-1n); // log_append_time_ms
          if (v >= 5) w.int64(-1n); // log_start_offset
          if (v >= 8) w.int32(0).string(null); // record_errors, error_message
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
          if (v >= 4) w.int32(0); // aborted_transactions
          if (v >= 11) w.int32(-1); // preferred_read_replica
          w.int32(0); // records
        });
      });
      break;
    case 2: // ListOffsets
      if (v >= 2) w.int32(0);
      w.array(topics, (t) => {
        w.string(t.name).array(t.partitions, (p) => {
          w.int32(p).int16(ERR);
          if (v === 0) w.int32(0); // old_style_offsets
          else w.int64(-1n).int64(-1n); // timestamp, offset
          if (v >= 4) w.int32(-1); // leader_epoch
        });
      });
      break;
    case 3: // Metadata: no brokers, every named topic unauthorised
      if (v >= 3) w.int32(0);
      w.int32(0); // brokers
      if (v >= 2) w.string(null); // cluster_id
      if (v >= 1) w.int32(-1); // controller_id
      w.array(topics, (t) => {
        w.int16(ERR).string(t.name);
        if (v >= 1) w.int8(0); // is_internal
        w.int32(0); // partitions
        if (v >= 8) w.int32(-2147483648); // topic_authorized_operations
      });
      if (v >= 8) w.int32(-2147483648);
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
