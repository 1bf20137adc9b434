import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { Kafka, logLevel } from 'kafkajs';
import { startKafkaTestBroker, type KafkaTestBroker } from '@tendril/testing';
import { KafkaRequestSplitter, KafkaRules, KafkaWireError, kafkaDenialResponse, parseKafkaRequestFrame, type KafkaRequest, type KafkaTopicPartitions } from '../src';

/** kafkajs's own response decoders, to check the denial responses with the client's code. */
const kafkajsResponse = (path: string): { decode(payload: Buffer): Promise<unknown>; parse(decoded: unknown): Promise<unknown> } =>
  createRequire(__filename)(`kafkajs/src/protocol/requests/${path}/response`);

const quiet = { logLevel: logLevel.NOTHING, retry: { retries: 0 } };

/** Runs a producer and a consumer group member through the broker; returns what each connection sent. */
async function captureKafkajsTraffic(broker: KafkaTestBroker): Promise<void> {
  const kafka = new Kafka({ clientId: 'orders-svc', brokers: [broker.address], ...quiet });
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic: 'orders', messages: [{ value: 'o1', partition: 1 }] });
  await producer.disconnect();
  const admin = kafka.admin();
  await admin.connect();
  await admin.fetchTopicOffsets('orders');
  await admin.disconnect();
  const consumer = kafka.consumer({ groupId: 'billing', maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topic: 'orders', fromBeginning: true });
  await new Promise<void>((resolve, reject) => {
    consumer.run({ eachMessage: async () => resolve() }).catch(reject);
  });
  await consumer.commitOffsets([{ topic: 'orders', partition: 1, offset: '1' }]);
  await consumer.disconnect();
}

/** Every request in the captured bytes, split from chunks of an awkward size so frames straddle chunks. */
function parseCaptured(broker: KafkaTestBroker): KafkaRequest[] {
  const out: KafkaRequest[] = [];
  for (const bytes of broker.received) {
    const splitter = new KafkaRequestSplitter();
    for (let at = 0; at < bytes.length; at += 7) out.push(...splitter.push(bytes.subarray(at, at + 7)));
    expect(splitter.bufferedBytes).toBe(0);
  }
  return out;
}

describe('Kafka request parser on the bytes kafkajs sends', () => {
  let broker: KafkaTestBroker;
  let parsed: KafkaRequest[];
  beforeAll(async () => {
    broker = await startKafkaTestBroker({ topics: { orders: 2 } });
    await captureKafkajsTraffic(broker);
    parsed = parseCaptured(broker);
  });
  afterAll(async () => {
    await broker.close();
  });

  const first = (apiKey: number): KafkaRequest => {
    const request = parsed.find((r) => r.facts.apiKey === apiKey);
    if (!request) throw new Error(`kafkajs sent no request with api key ${apiKey}`);
    return request;
  };

  it('finds every request the broker saw, with its key, version, correlation id and client id', () => {
    expect(parsed.map((r) => [r.facts.apiKey, r.facts.apiVersion, r.correlationId, r.facts.clientId]).sort()).toEqual(
      broker.requests.map((r) => [r.apiKey, r.apiVersion, r.correlationId, r.clientId]).sort(),
    );
  });

  it('reads the topics and partitions of produce v7, metadata v6, fetch v11, list offsets v3, offset commit v5 and offset fetch v4', () => {
    expect(first(0)).toMatchObject({ facts: { apiVersion: 7, clientId: 'orders-svc', topics: ['orders'] }, topicPartitions: [{ name: 'orders', partitions: [1] }], topicsKnown: true });
    expect(parsed.filter((r) => r.facts.apiKey === 3).map((r) => [r.facts.apiVersion, r.facts.topics])).toContainEqual([6, ['orders']]);
    // kafkajs orders a request's partitions as it likes.
    const sorted = (r: KafkaRequest): unknown => (r.topicPartitions as readonly KafkaTopicPartitions[]).map((t) => ({ name: t.name, partitions: [...t.partitions].sort() }));
    expect(first(1).facts).toMatchObject({ apiVersion: 11, topics: ['orders'] });
    expect(sorted(first(1))).toEqual([{ name: 'orders', partitions: [0, 1] }]);
    expect(first(2).facts).toMatchObject({ apiVersion: 3, topics: ['orders'] });
    expect(sorted(first(2))).toEqual([{ name: 'orders', partitions: [0, 1] }]);
    expect(first(8)).toMatchObject({ facts: { apiVersion: 5, topics: ['orders'] }, topicPartitions: [{ name: 'orders', partitions: [1] }] });
    expect(first(9).facts).toMatchObject({ apiVersion: 4, topics: ['orders'] });
    expect(sorted(first(9))).toEqual([{ name: 'orders', partitions: [0, 1] }]);
  });

  it('gives group and handshake requests no topics', () => {
    for (const key of [10, 11, 14, 18]) expect(first(key).facts.topics).toEqual([]);
  });

  it('knows which requests get a response: every one but a produce with acks 0', () => {
    expect(parsed.every((r) => r.expectsResponse)).toBe(true);
    const produce = first(0);
    const clientIdLength = produce.frame.readInt16BE(12);
    const transactionalIdAt = 14 + clientIdLength;
    expect(produce.frame.readInt16BE(transactionalIdAt)).toBe(-1);
    const noAcks = Buffer.from(produce.frame);
    noAcks.writeInt16BE(0, transactionalIdAt + 2);
    expect(parseKafkaRequestFrame(noAcks)).toMatchObject({ expectsResponse: false, facts: { apiKey: 0, topics: ['orders'] } });
  });

  it('keeps each frame byte for byte', () => {
    const produce = first(0);
    expect(produce.frame.readInt32BE(0)).toBe(produce.frame.length - 4);
    expect(broker.received.some((bytes) => bytes.includes(produce.frame))).toBe(true);
  });

  it('builds denials that kafkajs decodes as TOPIC_AUTHORIZATION_FAILED on every partition', async () => {
    const cases: [number, string][] = [[0, 'produce/v7'], [1, 'fetch/v11'], [2, 'listOffsets/v3'], [8, 'offsetCommit/v5'], [9, 'offsetFetch/v4'], [3, 'metadata/v6'], [10, 'findCoordinator/v2']];
    for (const [key, path] of cases) {
      const request = first(key);
      const denial = kafkaDenialResponse(request);
      if (!denial) throw new Error(`no denial for api key ${key}`);
      expect(denial.readInt32BE(0)).toBe(denial.length - 4);
      expect(denial.readInt32BE(4)).toBe(request.correlationId);
      const { decode, parse } = kafkajsResponse(path);
      const decoded = await decode(denial.subarray(8));
      await expect(parse(decoded)).rejects.toMatchObject({ type: 'TOPIC_AUTHORIZATION_FAILED' });
      const partitions = JSON.stringify(decoded).match(/"(topicE|e)rrorCode":29/g)?.length ?? 0;
      const expected = key === 10 ? 1 : key === 3 ? 1 : (request.topicPartitions as readonly KafkaTopicPartitions[]).reduce((n, t) => n + t.partitions.length, 0);
      expect({ key, errors: partitions }).toEqual({ key, errors: expected });
    }
  });
});

/** A client-side stand-in for the node proxy: forwards frames the rules allow, answers the others with the denial. */
async function startPolicedPort(upstream: KafkaTestBroker, rules: KafkaRules): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const broker = net.connect(upstream.port, upstream.host);
    sockets.add(client).add(broker);
    const splitter = new KafkaRequestSplitter();
    broker.pipe(client);
    client.on('data', (chunk) => {
      for (const request of splitter.push(chunk)) {
        if (rules.allows(request.facts)) broker.write(request.frame);
        else {
          const denial = kafkaDenialResponse(request);
          if (denial) client.write(denial);
        }
      }
    });
    for (const s of [client, broker]) s.on('error', () => undefined).on('close', () => { client.destroy(); broker.destroy(); });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  upstream.advertise('127.0.0.1', port);
  return {
    port,
    close: () => new Promise<void>((resolve) => { for (const s of sockets) s.destroy(); server.close(() => resolve()); }),
  };
}

describe('kafkajs against denial responses (policy-semantics.md §8 case 17)', () => {
  it('throws TOPIC_AUTHORIZATION_FAILED for a produce to a topic the rules do not cover, and delivers the covered one', async () => {
    const broker = await startKafkaTestBroker({ topics: { orders: 1, payments: 1 } });
    // Metadata for every topic is allowed so the produce itself reaches the rules.
    const policed = await startPolicedPort(broker, new KafkaRules([{ role: 'produce', topic: 'orders' }, { apiKey: 'metadata' }]));
    const kafka = new Kafka({ clientId: 'orders-svc', brokers: [`127.0.0.1:${policed.port}`], ...quiet });
    const producer = kafka.producer();
    try {
      await producer.connect();
      await expect(producer.send({ topic: 'orders', messages: [{ value: 'ok' }] })).resolves.toEqual([expect.objectContaining({ errorCode: 0 })]);
      await expect(producer.send({ topic: 'payments', messages: [{ value: 'no' }] })).rejects.toMatchObject({ type: 'TOPIC_AUTHORIZATION_FAILED' });
    } finally {
      await producer.disconnect();
      await policed.close();
      await broker.close();
    }
    expect(broker.requests.filter((r) => r.apiKey === 0).map((r) => r.topics)).toEqual([['orders']]);
  });

  it('allows one produce naming two topics only when rules cover both (§8 case 18), denying both partitions otherwise', async () => {
    const broker = await startKafkaTestBroker({ topics: { orders: 1, audit: 1, tmp: 1 } });
    const policed = await startPolicedPort(broker, new KafkaRules([{ role: 'produce', topic: 'orders' }, { role: 'produce', topic: 'audit' }, { apiKey: 'metadata' }]));
    const producer = new Kafka({ clientId: 'orders-svc', brokers: [`127.0.0.1:${policed.port}`], ...quiet }).producer();
    try {
      await producer.connect();
      const covered = await producer.sendBatch({ topicMessages: [{ topic: 'orders', messages: [{ value: 'o' }] }, { topic: 'audit', messages: [{ value: 'a' }] }] });
      expect(covered.map((r) => [r.topicName, r.errorCode]).sort()).toEqual([['audit', 0], ['orders', 0]]);
      await expect(producer.sendBatch({ topicMessages: [{ topic: 'orders', messages: [{ value: 'o' }] }, { topic: 'tmp', messages: [{ value: 't' }] }] })).rejects.toMatchObject({ type: 'TOPIC_AUTHORIZATION_FAILED' });
    } finally {
      await producer.disconnect();
      await policed.close();
      await broker.close();
    }
    // The denied request never reached the broker: orders got only the first batch.
    expect(broker.requests.filter((r) => r.apiKey === 0).map((r) => [...(r.topics as string[])].sort())).toEqual([['audit', 'orders']]);
  });

  it('makes kafkajs fail metadata for a topic outside the produce rule', async () => {
    const broker = await startKafkaTestBroker({ topics: { orders: 1, payments: 1 } });
    const policed = await startPolicedPort(broker, new KafkaRules([{ role: 'produce', topic: 'orders' }]));
    const producer = new Kafka({ clientId: 'orders-svc', brokers: [`127.0.0.1:${policed.port}`], ...quiet }).producer();
    try {
      await producer.connect();
      // kafkajs's message for error 29 in a metadata response.
      await expect(producer.send({ topic: 'payments', messages: [{ value: 'no' }] })).rejects.toThrow('Not authorized to access topics: [Topic authorization failed]');
    } finally {
      await producer.disconnect();
      await policed.close();
      await broker.close();
    }
    expect(broker.requests.filter((r) => r.apiKey === 0)).toEqual([]);
  });
});

/** Builds request frames field by field, for the flexible versions kafkajs never sends (librdkafka, the Java client). */
class Frame {
  private readonly parts: Buffer[] = [];
  int8(v: number): this { const b = Buffer.alloc(1); b.writeInt8(v); return this.raw(b); }
  int16(v: number): this { const b = Buffer.alloc(2); b.writeInt16BE(v); return this.raw(b); }
  int32(v: number): this { const b = Buffer.alloc(4); b.writeInt32BE(v); return this.raw(b); }
  int64(v: number): this { const b = Buffer.alloc(8); b.writeBigInt64BE(BigInt(v)); return this.raw(b); }
  uvarint(v: number): this {
    const bytes: number[] = [];
    while (v >= 0x80) { bytes.push((v & 0x7f) | 0x80); v >>>= 7; }
    bytes.push(v);
    return this.raw(Buffer.from(bytes));
  }
  string(s: string | null): this { return s === null ? this.int16(-1) : this.int16(Buffer.byteLength(s)).raw(Buffer.from(s)); }
  compactString(s: string | null): this { return s === null ? this.uvarint(0) : this.uvarint(Buffer.byteLength(s) + 1).raw(Buffer.from(s)); }
  /** No tagged fields, or one with tag 7 and these bytes (which the parser must skip). */
  tags(payload?: Buffer): this { return payload ? this.uvarint(1).uvarint(7).uvarint(payload.length).raw(payload) : this.uvarint(0); }
  raw(b: Buffer): this { this.parts.push(b); return this; }
  /** Size prefix + header v2 (flexible) or v1, then what was written as the body. */
  request(apiKey: number, apiVersion: number, correlationId: number, clientId: string | null, flexible: boolean): Buffer {
    const head = new Frame().int16(apiKey).int16(apiVersion).int32(correlationId).string(clientId);
    if (flexible) head.tags(Buffer.from('header-tag'));
    const body = Buffer.concat([...head.parts, ...this.parts]);
    const size = Buffer.alloc(4);
    size.writeInt32BE(body.length);
    return Buffer.concat([size, body]);
  }
}

/** Reads a flexible response frame, checking its size, correlation id and header tagged fields. */
class Reply {
  private at = 9;
  constructor(private readonly buf: Buffer | null, correlationId: number) {
    if (!buf) throw new Error('no denial response');
    expect(buf.readInt32BE(0)).toBe(buf.length - 4);
    expect(buf.readInt32BE(4)).toBe(correlationId);
    expect(buf[8]).toBe(0);
  }
  private get b(): Buffer { return this.buf as Buffer; }
  skip(n: number): void { this.at += n; }
  int16(): number { const v = this.b.readInt16BE(this.at); this.at += 2; return v; }
  int32(): number { const v = this.b.readInt32BE(this.at); this.at += 4; return v; }
  uvarint(): number { let v = 0; for (let shift = 0; ; shift += 7) { const byte = this.b[this.at++] as number; v |= (byte & 0x7f) << shift; if (!(byte & 0x80)) return v; } }
  compactString(): string | null { const n = this.uvarint(); if (n === 0) return null; const s = this.b.toString('utf8', this.at, this.at + n - 1); this.at += n - 1; return s; }
  tags(): void { expect(this.uvarint()).toBe(0); }
  array(element: () => void): void { const n = this.uvarint() - 1; for (let i = 0; i < n; i++) element(); }
  /** The body's tagged fields, then nothing more. */
  end(): void { this.tags(); expect(this.at).toBe(this.b.length); }
}

describe('Kafka request parser on flexible versions', () => {
  it('reads a produce v9 with compact strings, compact records and tagged fields', () => {
    const body = new Frame().compactString(null).int16(-1).int32(30000)
      .uvarint(3) // two topics
      .compactString('orders').uvarint(2).int32(4).uvarint(4).raw(Buffer.from('abc')).tags().tags(Buffer.from('t'))
      .compactString('audit').uvarint(3).int32(0).uvarint(0).tags().int32(1).uvarint(1).tags().tags()
      .tags();
    const request = parseKafkaRequestFrame(body.request(0, 9, 42, 'rdkafka', true));
    expect(request).toMatchObject({ correlationId: 42, facts: { apiKey: 0, apiVersion: 9, clientId: 'rdkafka', topics: ['orders', 'audit'] }, topicPartitions: [{ name: 'orders', partitions: [4] }, { name: 'audit', partitions: [0, 1] }] });
  });

  it('reads a fetch v12 and reports fetch v13 (topic ids) as topics unknown, which a topic rule never allows', () => {
    const partition = (f: Frame): Frame => f.int32(3).int32(-1).int64(10).int32(-1).int64(0).int32(1048576).tags();
    const v12 = partition(new Frame().int32(-1).int32(500).int32(1).int32(52428800).int8(0).int32(0).int32(-1).uvarint(2).compactString('orders').uvarint(2)).tags().uvarint(1).compactString('').tags();
    expect(parseKafkaRequestFrame(v12.request(1, 12, 1, 'c', true))).toMatchObject({ facts: { topics: ['orders'] }, topicPartitions: [{ name: 'orders', partitions: [3] }], topicsKnown: true });
    const v13 = partition(new Frame().int32(-1).int32(500).int32(1).int32(52428800).int8(0).int32(0).int32(-1).uvarint(2).raw(Buffer.alloc(16, 7)).uvarint(2)).tags().uvarint(1).compactString('').tags();
    const request = parseKafkaRequestFrame(v13.request(1, 13, 2, 'c', true));
    expect(request).toMatchObject({ facts: { apiKey: 1, apiVersion: 13, topics: [] }, topicsKnown: false });
    expect(new KafkaRules([{ role: 'consume', topic: 'orders' }]).allows(request.facts)).toBe(false);
    expect(new KafkaRules([{ role: 'consume' }]).allows(request.facts)).toBe(true);
    // A denial naming no partition would read as success: there is none, the request is just dropped.
    expect(kafkaDenialResponse(request)).toBeNull();
  });

  it('reads metadata v9 names, v12 names beside topic ids, and null as every topic', () => {
    const v9 = new Frame().uvarint(3).compactString('orders').tags().compactString('audit').tags().int8(1).int8(0).int8(0).tags();
    expect(parseKafkaRequestFrame(v9.request(3, 9, 5, 'c', true)).facts.topics).toEqual(['orders', 'audit']);
    const v12 = new Frame().uvarint(2).raw(Buffer.alloc(16)).compactString('orders').tags().int8(1).int8(0).tags();
    expect(parseKafkaRequestFrame(v12.request(3, 12, 6, 'c', true)).facts.topics).toEqual(['orders']);
    const all = new Frame().uvarint(0).int8(1).int8(0).tags();
    expect(parseKafkaRequestFrame(all.request(3, 12, 7, 'c', true)).facts.topics).toBe('all');
    expect(parseKafkaRequestFrame(new Frame().int32(-1).int8(1).request(3, 4, 8, 'c', false)).facts.topics).toBe('all');
    // Version 0 had no null list: empty meant every topic.
    expect(parseKafkaRequestFrame(new Frame().int32(0).request(3, 0, 9, 'c', false)).facts.topics).toBe('all');
  });

  it('reads offset commit v8 and batched offset fetch v8 (union of the groups\' topics)', () => {
    const commit = new Frame().compactString('billing').int32(3).compactString('m-1').compactString(null)
      .uvarint(2).compactString('orders').uvarint(2).int32(0).int64(5).int32(-1).compactString(null).tags().tags().tags();
    expect(parseKafkaRequestFrame(commit.request(8, 8, 1, 'c', true))).toMatchObject({ facts: { topics: ['orders'] }, topicPartitions: [{ name: 'orders', partitions: [0] }] });
    const fetch = new Frame().uvarint(3)
      .compactString('billing').uvarint(2).compactString('orders').uvarint(3).int32(0).int32(1).tags().tags()
      .compactString('audit-readers').uvarint(2).compactString('audit').uvarint(2).int32(0).tags().tags()
      .int8(0).tags();
    expect(parseKafkaRequestFrame(fetch.request(9, 8, 2, 'c', true)).facts.topics).toEqual(['orders', 'audit']);
    const everyTopic = new Frame().uvarint(2).compactString('billing').uvarint(0).tags().int8(0).tags();
    expect(parseKafkaRequestFrame(everyTopic.request(9, 8, 3, 'c', true)).facts.topics).toBe('all');
  });

  it('reads only the header of keys whose topics it does not extract (§4.3: a create topics request names none)', () => {
    const createTopics = new Frame().uvarint(2).compactString('orders').int32(1).int16(1).uvarint(1).uvarint(1).tags().int32(1000).int8(0).tags();
    const request = parseKafkaRequestFrame(createTopics.request(19, 5, 11, 'admin', true));
    expect(request).toMatchObject({ correlationId: 11, facts: { apiKey: 19, apiVersion: 5, clientId: 'admin', topics: [] }, topicsKnown: true });
    expect(new KafkaRules([{ apiKey: 'createtopics', topic: 'orders' }]).allows(request.facts)).toBe(false);
    expect(kafkaDenialResponse(request)).toBeNull();
  });

  it('builds no denial for versions it does not know the response of', () => {
    const v13 = new Frame().uvarint(2).raw(Buffer.alloc(16)).compactString('orders').tags().int8(1).int8(0).tags();
    const request = parseKafkaRequestFrame(v13.request(3, 13, 1, 'c', true));
    expect(request.facts.topics).toEqual(['orders']);
    expect(kafkaDenialResponse(request)).toBeNull();
  });

  it('builds flexible denials (header v1, compact encodings, tagged fields) with error 29 where the schema puts it', () => {
    const produce = new Frame().compactString(null).int16(-1).int32(30000).uvarint(2).compactString('orders').uvarint(3).int32(0).uvarint(0).tags().int32(2).uvarint(0).tags().tags().tags();
    const p = new Reply(kafkaDenialResponse(parseKafkaRequestFrame(produce.request(0, 9, 31, 'c', true))), 31);
    const partitions: number[][] = [];
    p.array(() => {
      expect(p.compactString()).toBe('orders');
      p.array(() => {
        partitions.push([p.int32(), p.int16()]);
        p.skip(8 + 8 + 8); // base_offset, log_append_time, log_start_offset
        expect(p.uvarint()).toBe(1); // record_errors: empty
        expect(p.compactString()).toBeNull();
        p.tags();
      });
      p.tags();
    });
    p.skip(4); // throttle
    p.end();
    expect(partitions).toEqual([[0, 29], [2, 29]]);

    const metadata = new Frame().uvarint(2).raw(Buffer.alloc(16)).compactString('payments').tags().int8(1).int8(0).tags();
    const m = new Reply(kafkaDenialResponse(parseKafkaRequestFrame(metadata.request(3, 12, 32, 'c', true))), 32);
    m.skip(4); // throttle
    expect(m.uvarint()).toBe(1); // no brokers
    expect(m.compactString()).toBeNull(); // cluster id
    m.skip(4); // controller
    const topics: [number, string | null][] = [];
    m.array(() => {
      topics.push([m.int16(), m.compactString()]);
      m.skip(16 + 1); // topic id, is_internal
      expect(m.uvarint()).toBe(1); // no partitions
      m.skip(4); // topic authorized operations
      m.tags();
    });
    m.end();
    expect(topics).toEqual([[29, 'payments']]);

    const coordinator = new Frame().compactString('billing').int8(0).tags();
    const c = new Reply(kafkaDenialResponse(parseKafkaRequestFrame(coordinator.request(10, 3, 33, 'c', true))), 33);
    c.skip(4);
    expect(c.int16()).toBe(29);
  });
});

describe('Kafka request parser on bad input', () => {
  const produceV3 = new Frame().string(null).int16(1).int32(1000).int32(1).string('orders').int32(1).int32(0).int32(3).raw(Buffer.from('abc')).request(0, 3, 77, 'p', false);

  it('parses the well-formed frame the truncations are cut from', () => {
    expect(parseKafkaRequestFrame(produceV3).facts.topics).toEqual(['orders']);
  });

  it('refuses every truncation of a frame with a KafkaWireError', () => {
    for (let cut = 0; cut < produceV3.length; cut++) {
      const truncated = Buffer.from(produceV3.subarray(0, cut));
      if (truncated.length >= 4) truncated.writeInt32BE(truncated.length - 4, 0);
      expect(() => parseKafkaRequestFrame(truncated)).toThrow(KafkaWireError);
    }
  });

  it('never throws anything but a KafkaWireError on random garbage', () => {
    let seed = 12345;
    const random = (): number => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    for (let i = 0; i < 2000; i++) {
      const body = Buffer.from(Array.from({ length: 12 + Math.floor(random() * 60) }, () => Math.floor(random() * 256)));
      // Keep the header plausible half of the time so bodies of the topic-bearing keys get read.
      if (i % 2 === 0) { body.writeInt16BE(Math.floor(random() * 10), 0); body.writeInt16BE(Math.floor(random() * 14), 2); body.writeInt16BE(Math.floor(random() * 4), 8); }
      const frame = Buffer.concat([Buffer.alloc(4), body]);
      frame.writeInt32BE(body.length, 0);
      try {
        parseKafkaRequestFrame(frame);
      } catch (e) {
        expect(e).toBeInstanceOf(KafkaWireError);
      }
    }
  });

  it('refuses a frame larger than the configured limit before buffering it, and nonsense sizes', () => {
    const splitter = new KafkaRequestSplitter({ maxFrameBytes: 64 });
    const big = Buffer.alloc(8);
    big.writeInt32BE(65, 0);
    expect(() => splitter.push(big)).toThrow('frame of 65 bytes exceeds the limit of 64');
    // Frame boundaries are lost: the stream stays refused.
    expect(() => splitter.push(Buffer.from(produceV3))).toThrow('frame of 65 bytes exceeds the limit of 64');
    const negative = Buffer.alloc(4);
    negative.writeInt32BE(-5, 0);
    expect(() => new KafkaRequestSplitter().push(negative)).toThrow('invalid frame size -5');
    expect(() => new KafkaRequestSplitter({ maxFrameBytes: 0 })).toThrow(RangeError);
  });

  it('reports a huge array count as a clear error instead of looping', () => {
    const lying = new Frame().string(null).int16(1).int32(1000).int32(2_000_000_000).request(0, 3, 1, 'p', false);
    expect(() => parseKafkaRequestFrame(lying)).toThrow(/array of 2000000000 elements cannot fit/);
  });

  it('keeps a partial frame across chunks and yields it once complete', () => {
    const splitter = new KafkaRequestSplitter();
    expect(splitter.push(produceV3.subarray(0, 3))).toEqual([]);
    expect(splitter.push(produceV3.subarray(3, 20))).toEqual([]);
    const [request] = splitter.push(Buffer.concat([produceV3.subarray(20), produceV3.subarray(0, 5)]));
    expect(request?.correlationId).toBe(77);
    expect(splitter.bufferedBytes).toBe(5);
  });
});
