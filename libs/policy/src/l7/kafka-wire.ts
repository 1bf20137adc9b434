import type { KafkaRequestFacts } from './kafka-rules';

/**
 * Kafka request frames as the node proxy reads them from a client (policy-semantics.md §4): an
 * int32 size prefix, the request header (v1, or the flexible v2 with tagged fields), and for
 * produce, fetch, list offsets, metadata, offset commit and offset fetch the topics the body
 * names, following the apache/kafka message schemas. Only what the rules need is read; the raw
 * frame is forwarded untouched.
 */

export const KAFKA_INVALID_MESSAGE = 2;

/** A frame the parser cannot read; the proxy closes the connection and logs INVALID_MESSAGE. */
export class KafkaWireError extends Error {}

/** The first version of each request whose schema is "flexible" (compact encodings, tagged fields, header v2). */
const FIRST_FLEXIBLE_VERSION: Readonly<Record<number, number>> = {
  0: 9, 1: 12, 2: 6, 3: 9, 4: 4, 5: 2, 6: 6, 7: 3, 8: 8, 9: 6, 10: 3, 11: 6, 12: 4, 13: 4, 14: 4, 15: 5, 16: 3, 17: 99,
  18: 3, 19: 5, 20: 4, 21: 2, 22: 2, 23: 4, 24: 3, 25: 3, 26: 3, 27: 1, 28: 3, 29: 2, 30: 2, 31: 2, 32: 4, 33: 2, 34: 2,
  35: 2, 36: 2, 37: 2, 38: 2, 39: 2, 40: 2, 41: 2, 42: 2, 43: 2, 44: 1, 45: 0, 46: 0, 47: 0, 48: 1, 49: 1, 50: 0, 51: 0,
  55: 0, 56: 0, 57: 0, 60: 0, 61: 0, 64: 0, 65: 0, 66: 0, 67: 0, 68: 0, 69: 0, 71: 0, 72: 0, 74: 0, 75: 0,
};

/**
 * The newest body version the topic reader understands per key. Fetch 13+ (and produce 13+,
 * offset commit/fetch 10+) name topics by id: their topics are reported unknown, which no topic
 * rule allows. Newer metadata and list offsets versions than these are likewise reported unknown
 * rather than guessed at.
 */
const NEWEST_READ_VERSION: Readonly<Record<number, number>> = { 0: 12, 1: 12, 2: 10, 3: 13, 8: 9, 9: 9 };

export function isFlexibleRequest(apiKey: number, apiVersion: number): boolean {
  const first = FIRST_FLEXIBLE_VERSION[apiKey];
  // Keys newer than this table are all flexible from their first version.
  return apiVersion >= (first ?? 0);
}

/** A topic of a request with the partitions it names (empty for metadata, which names none). */
export interface KafkaTopicPartitions {
  readonly name: string;
  readonly partitions: readonly number[];
}

export interface KafkaRequest {
  readonly facts: KafkaRequestFacts;
  readonly correlationId: number;
  /** The whole frame including its size prefix, to forward as it came. */
  readonly frame: Buffer;
  /** Topics with partitions in request order; 'all' for metadata/offset fetch of every topic. */
  readonly topicPartitions: readonly KafkaTopicPartitions[] | 'all';
  /** False when the body names topics the parser could not read (topic ids, unknown versions): facts.topics is then empty. */
  readonly topicsKnown: boolean;
  /** False for a produce request with acks 0: the broker sends no response to it. */
  readonly expectsResponse: boolean;
}

/** Reads Kafka primitive types from one frame, failing with a KafkaWireError past its end. */
class FrameReader {
  private offset: number;
  constructor(private readonly buf: Buffer, start: number, private readonly what: string) {
    this.offset = start;
  }

  private need(n: number): void {
    if (n < 0 || this.offset + n > this.buf.length) throw new KafkaWireError(`truncated ${this.what}: needs ${n} more bytes at offset ${this.offset}, frame has ${this.buf.length}`);
  }
  get position(): number {
    return this.offset;
  }
  skip(n: number): void {
    this.need(n);
    this.offset += n;
  }
  int8(): number { this.need(1); return this.buf.readInt8(this.offset++); }
  int16(): number { this.need(2); const v = this.buf.readInt16BE(this.offset); this.offset += 2; return v; }
  int32(): number { this.need(4); const v = this.buf.readInt32BE(this.offset); this.offset += 4; return v; }
  unsignedVarint(): number {
    let value = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      this.need(1);
      const byte = this.buf[this.offset++] as number;
      value += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return value;
    }
    throw new KafkaWireError(`malformed varint in ${this.what} at offset ${this.offset}`);
  }
  private utf8(length: number): string {
    this.need(length);
    const s = this.buf.toString('utf8', this.offset, this.offset + length);
    this.offset += length;
    return s;
  }
  nullableString(): string | null {
    const length = this.int16();
    if (length === -1) return null;
    if (length < 0) throw new KafkaWireError(`negative string length ${length} in ${this.what}`);
    return this.utf8(length);
  }
  compactNullableString(): string | null {
    const length = this.unsignedVarint();
    return length === 0 ? null : this.utf8(length - 1);
  }
  optionalString(flexible: boolean): string | null {
    return flexible ? this.compactNullableString() : this.nullableString();
  }
  string(flexible: boolean): string {
    const s = this.optionalString(flexible);
    if (s === null) throw new KafkaWireError(`null where ${this.what} needs a string`);
    return s;
  }
  /** Array length; null for a null array. */
  arrayLength(flexible: boolean): number | null {
    const n = flexible ? this.unsignedVarint() - 1 : this.int32();
    if (n === -1) return null;
    if (n < 0) throw new KafkaWireError(`negative array length ${n} in ${this.what}`);
    // Every element takes at least one byte: a larger count is a lie that would make us loop long.
    if (n > this.buf.length - this.offset) throw new KafkaWireError(`array of ${n} elements cannot fit in ${this.what}`);
    return n;
  }
  bytes(flexible: boolean): void {
    const n = flexible ? this.unsignedVarint() - 1 : this.int32();
    if (n < -1) throw new KafkaWireError(`negative bytes length ${n} in ${this.what}`);
    if (n > 0) this.skip(n);
  }
  taggedFields(flexible: boolean): void {
    if (!flexible) return;
    const count = this.unsignedVarint();
    for (let i = 0; i < count; i++) {
      this.unsignedVarint();
      this.skip(this.unsignedVarint());
    }
  }
}

/** Topics (with partitions) of one body; 'all' for every topic; null for topics the parser cannot read. */
type BodyTopics = KafkaTopicPartitions[] | 'all' | null;

function readArray<T>(r: FrameReader, flexible: boolean, element: () => T): T[] | null {
  const n = r.arrayLength(flexible);
  if (n === null) return null;
  const out: T[] = [];
  for (let i = 0; i < n; i++) out.push(element());
  return out;
}

function nonNull<T>(value: T[] | null, what: string): T[] {
  if (value === null) throw new KafkaWireError(`null ${what} array`);
  return value;
}

/**
 * The topics array most bodies share: each topic a name and its partitions, each partition an
 * index followed by fields `skipPartitionRest` reads past (they differ by key and version).
 */
function readTopicPartitions(r: FrameReader, flex: boolean, what: string, skipPartitionRest: () => void): BodyTopics {
  return nonNull(
    readArray(r, flex, () => {
      const name = r.string(flex);
      const partitions = nonNull(
        readArray(r, flex, () => {
          const index = r.int32();
          skipPartitionRest();
          r.taggedFields(flex);
          return index;
        }),
        `${what} partitions`,
      );
      r.taggedFields(flex);
      return { name, partitions };
    }),
    `${what} topics`,
  );
}

function produceTopics(r: FrameReader, v: number, flex: boolean): BodyTopics {
  if (v >= 3) r.optionalString(flex); // transactional_id
  r.skip(2 + 4); // acks, timeout_ms
  return readTopicPartitions(r, flex, 'produce', () => r.bytes(flex)); // records
}

/** A produce request's acks (0: no response will come). */
function produceAcks(r: FrameReader, v: number, flex: boolean): number {
  if (v >= 3) r.optionalString(flex); // transactional_id
  return r.int16();
}

function fetchTopics(r: FrameReader, v: number, flex: boolean): BodyTopics {
  r.skip(4 + 4 + 4); // replica_id, max_wait_ms, min_bytes
  if (v >= 3) r.skip(4); // max_bytes
  if (v >= 4) r.skip(1); // isolation_level
  if (v >= 7) r.skip(4 + 4); // session_id, session_epoch
  // After the index: current_leader_epoch (v9+), fetch_offset, last_fetched_epoch (v12+), log_start_offset (v5+), partition_max_bytes.
  const rest = (v >= 9 ? 4 : 0) + 8 + (v >= 12 ? 4 : 0) + (v >= 5 ? 8 : 0) + 4;
  return readTopicPartitions(r, flex, 'fetch', () => r.skip(rest));
}

function listOffsetsTopics(r: FrameReader, v: number, flex: boolean): BodyTopics {
  r.skip(4); // replica_id
  if (v >= 2) r.skip(1); // isolation_level
  // After the index: current_leader_epoch (v4+), timestamp, max_num_offsets (v0).
  const rest = (v >= 4 ? 4 : 0) + 8 + (v === 0 ? 4 : 0);
  return readTopicPartitions(r, flex, 'list offsets', () => r.skip(rest));
}

function metadataTopics(r: FrameReader, v: number, flex: boolean): BodyTopics {
  let byId = false;
  const topics = readArray(r, flex, () => {
    if (v >= 10) r.skip(16); // topic_id
    const name = v >= 10 ? r.compactNullableString() : r.string(flex);
    r.taggedFields(flex);
    if (name === null) byId = true;
    return { name: name ?? '', partitions: [] };
  });
  if (topics === null) {
    if (v === 0) throw new KafkaWireError('null metadata topics array in version 0');
    return 'all';
  }
  // Version 0 had no null: an empty list asked for every topic.
  if (v === 0 && topics.length === 0) return 'all';
  return byId ? null : topics;
}

function offsetCommitTopics(r: FrameReader, v: number, flex: boolean): BodyTopics {
  r.string(flex); // group_id
  if (v >= 1) {
    r.skip(4); // generation_id
    r.string(flex); // member_id
  }
  if (v >= 7) r.optionalString(flex); // group_instance_id
  if (v >= 2 && v <= 4) r.skip(8); // retention_time_ms
  return readTopicPartitions(r, flex, 'offset commit', () => {
    r.skip(8 + (v >= 6 ? 4 : 0) + (v === 1 ? 8 : 0)); // committed_offset, committed_leader_epoch, commit_timestamp
    r.optionalString(flex); // committed_metadata
  });
}

function offsetFetchGroupTopics(r: FrameReader, flex: boolean): KafkaTopicPartitions[] | null {
  return readArray(r, flex, () => {
    const name = r.string(flex);
    const partitions = nonNull(readArray(r, flex, () => r.int32()), 'offset fetch partitions');
    r.taggedFields(flex);
    return { name, partitions };
  });
}

function offsetFetchTopics(r: FrameReader, v: number, flex: boolean): BodyTopics {
  if (v <= 7) {
    r.string(flex); // group_id
    const topics = offsetFetchGroupTopics(r, flex);
    // A null list (version 2+) asks for every topic the group committed.
    return topics ?? 'all';
  }
  // Version 8+ batches groups: the request names the union of their topics.
  const all: KafkaTopicPartitions[] = [];
  let everyTopic = false;
  nonNull(readArray(r, flex, () => {
    r.string(flex); // group_id
    if (v >= 9) {
      r.compactNullableString(); // member_id
      r.skip(4); // member_epoch
    }
    const topics = offsetFetchGroupTopics(r, flex);
    if (topics === null) everyTopic = true;
    else all.push(...topics);
    r.taggedFields(flex);
    return null;
  }), 'offset fetch groups');
  return everyTopic ? 'all' : all;
}

const TOPIC_READERS: Readonly<Record<number, (r: FrameReader, v: number, flex: boolean) => BodyTopics>> = {
  0: produceTopics, 1: fetchTopics, 2: listOffsetsTopics, 3: metadataTopics, 8: offsetCommitTopics, 9: offsetFetchTopics,
};

/** Parses one complete frame (size prefix included). Throws KafkaWireError when it cannot. */
export function parseKafkaRequestFrame(frame: Buffer): KafkaRequest {
  if (frame.length < 4 + 8) throw new KafkaWireError(`truncated request header: frame of ${frame.length} bytes`);
  const size = frame.readInt32BE(0);
  if (size !== frame.length - 4) throw new KafkaWireError(`frame size ${size} does not match its ${frame.length - 4} bytes`);
  const r = new FrameReader(frame, 4, 'request header');
  const apiKey = r.int16();
  const apiVersion = r.int16();
  const correlationId = r.int32();
  if (apiKey < 0 || apiVersion < 0) throw new KafkaWireError(`invalid api key ${apiKey} / version ${apiVersion}`);
  // Header v0 (controlled shutdown v0 only) had no client id; nobody sends it to a proxied broker any more.
  const clientId = r.nullableString();
  const flexible = isFlexibleRequest(apiKey, apiVersion);
  r.taggedFields(flexible);

  let topicPartitions: KafkaTopicPartitions[] | 'all' = [];
  let topicsKnown = true;
  const reader = TOPIC_READERS[apiKey];
  if (reader) {
    const newest = NEWEST_READ_VERSION[apiKey] as number;
    const topics = apiVersion > newest || (apiKey === 1 && apiVersion >= 13) ? null : reader(new FrameReader(frame, r.position, `api key ${apiKey} v${apiVersion} body`), apiVersion, flexible);
    if (topics === null) topicsKnown = false;
    else topicPartitions = topics;
  }
  const topics = topicPartitions === 'all' ? 'all' : [...new Set(topicPartitions.map((t) => t.name))];
  const expectsResponse = apiKey !== 0 || produceAcks(new FrameReader(frame, r.position, 'produce body'), apiVersion, flexible) !== 0;
  return { facts: { apiKey, apiVersion, clientId, topics }, correlationId, frame, topicPartitions, topicsKnown, expectsResponse };
}

export interface KafkaRequestSplitterOptions {
  /** Frames whose size prefix exceeds this are refused (default 100 MiB, Kafka's socket.request.max.bytes). */
  maxFrameBytes?: number;
}

export const DEFAULT_MAX_KAFKA_FRAME_BYTES = 104857600;

/**
 * Splits a client's byte stream into request frames. Feed it chunks as they arrive; it returns
 * the requests completed by each chunk and keeps a partial frame for the next.
 */
export class KafkaRequestSplitter {
  private readonly maxFrameBytes: number;
  private pending: Buffer = Buffer.alloc(0);
  private failure: KafkaWireError | null = null;

  constructor(options: KafkaRequestSplitterOptions = {}) {
    this.maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_KAFKA_FRAME_BYTES;
    if (!Number.isInteger(this.maxFrameBytes) || this.maxFrameBytes < 12) throw new RangeError(`maxFrameBytes must be an integer of at least 12, got ${this.maxFrameBytes}`);
  }

  /**
   * Throws KafkaWireError on a malformed or oversized frame. Frame boundaries are lost after that,
   * so every later push throws the same error (requests completed in the failing chunk are lost too).
   */
  push(chunk: Buffer): KafkaRequest[] {
    if (this.failure) throw this.failure;
    try {
      return this.split(chunk);
    } catch (e) {
      if (e instanceof KafkaWireError) this.failure = e;
      throw e;
    }
  }

  private split(chunk: Buffer): KafkaRequest[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const out: KafkaRequest[] = [];
    while (this.pending.length >= 4) {
      const size = this.pending.readInt32BE(0);
      if (size < 8) throw new KafkaWireError(`invalid frame size ${size}`);
      if (size > this.maxFrameBytes) throw new KafkaWireError(`frame of ${size} bytes exceeds the limit of ${this.maxFrameBytes}`);
      if (this.pending.length < 4 + size) break;
      out.push(parseKafkaRequestFrame(this.pending.subarray(0, 4 + size)));
      this.pending = this.pending.subarray(4 + size);
    }
    return out;
  }

  /** Bytes of a frame not complete yet. */
  get bufferedBytes(): number {
    return this.pending.length;
  }
}
