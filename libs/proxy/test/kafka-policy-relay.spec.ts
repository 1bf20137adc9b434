/**
 * The tendril.kafkapolicy filter's relay on real sockets: kafkajs through it to the Kafka test
 * broker, denials in request order behind slower broker responses, and malformed frames.
 */
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { Kafka, logLevel } from 'kafkajs';
import { KafkaRules, type KafkaRequest } from '@tendril/policy';
import { eventually, startKafkaTestBroker, type KafkaTestBroker } from '@tendril/testing';
import { KafkaPolicyRelay } from '../src/kafka-policy-relay';
import type { L7Decision } from '../src/l7-policy';

interface Relay {
  port: number;
  decisions: { key: number; allowed: boolean }[];
  invalid: string[];
  close(): Promise<void>;
}

/** A listener relaying each connection to `upstream` through a KafkaPolicyRelay with `rules`. */
async function startRelay(upstream: { host: string; port: number }, rules: KafkaRules): Promise<Relay> {
  const sockets = new Set<net.Socket>();
  const decisions: Relay['decisions'] = [];
  const invalid: string[] = [];
  const server = net.createServer((client) => {
    const broker = net.connect(upstream.port, upstream.host);
    for (const s of [client, broker]) {
      sockets.add(s);
      s.on('error', () => undefined).on('close', () => (client.destroy(), broker.destroy()));
    }
    new KafkaPolicyRelay(client, broker, {
      decide: (request: KafkaRequest): L7Decision => ({ allowed: rules.allows(request.facts), reason: 'test', edits: [], mismatchedHeaders: [] }),
      onRequest: (record) => decisions.push({ key: record.apiKey, allowed: record.decision.allowed }),
      onInvalid: (err) => invalid.push(err.message),
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    decisions,
    invalid,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A metadata v6 request frame for some topics (allow_auto_topic_creation false). */
function metadataRequest(correlationId: number, topics: string[]): Buffer {
  const clientId = Buffer.from('raw-client');
  const parts = [Buffer.alloc(2 + 2 + 4 + 2), clientId, Buffer.alloc(4)];
  parts[0].writeInt16BE(3, 0);
  parts[0].writeInt16BE(6, 2);
  parts[0].writeInt32BE(correlationId, 4);
  parts[0].writeInt16BE(clientId.length, 8);
  parts[2].writeInt32BE(topics.length, 0);
  for (const topic of topics) {
    const name = Buffer.from(topic);
    const length = Buffer.alloc(2);
    length.writeInt16BE(name.length, 0);
    parts.push(length, name);
  }
  parts.push(Buffer.from([0]));
  const body = Buffer.concat(parts);
  const size = Buffer.alloc(4);
  size.writeInt32BE(body.length, 0);
  return Buffer.concat([size, body]);
}

/** Reads response frames from a socket: [correlation id, frame] in arrival order. */
function collectResponses(socket: net.Socket): { correlationId: number; frame: Buffer }[] {
  const responses: { correlationId: number; frame: Buffer }[] = [];
  let pending = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 8 && pending.length >= 4 + pending.readInt32BE(0)) {
      const frame = pending.subarray(0, 4 + pending.readInt32BE(0));
      responses.push({ correlationId: frame.readInt32BE(4), frame });
      pending = pending.subarray(frame.length);
    }
  });
  return responses;
}

describe('KafkaPolicyRelay', () => {
  let broker: KafkaTestBroker;
  beforeAll(async () => {
    broker = await startKafkaTestBroker({ topics: { orders: 2, payments: 1 } });
  });
  afterAll(() => broker.close());

  it('forwards what the rules allow and answers the rest with TOPIC_AUTHORIZATION_FAILED (kafkajs)', async () => {
    const relay = await startRelay(broker, new KafkaRules([{ role: 'produce', topic: 'orders' }, { apiKey: 'metadata' }]));
    broker.advertise('127.0.0.1', relay.port);
    const kafka = new Kafka({ clientId: 'orders-svc', brokers: [`127.0.0.1:${relay.port}`], logLevel: logLevel.NOTHING, retry: { retries: 0 } });
    const producer = kafka.producer();
    try {
      await producer.connect();
      await expect(producer.send({ topic: 'orders', messages: [{ value: 'ok' }] })).resolves.toEqual([expect.objectContaining({ errorCode: 0 })]);
      await expect(producer.send({ topic: 'payments', messages: [{ value: 'no' }] })).rejects.toMatchObject({ type: 'TOPIC_AUTHORIZATION_FAILED' });
      // The denied produce never reached the broker.
      expect(broker.requests.filter((r) => r.apiKey === 0).map((r) => r.topics)).toEqual([['orders']]);
      expect(relay.decisions.filter((d) => d.key === 0)).toEqual([
        { key: 0, allowed: true },
        { key: 0, allowed: false },
      ]);
    } finally {
      await producer.disconnect();
      await relay.close();
    }
  });

  it('keeps responses in request order: a denial waits for the broker’s answer to an earlier request', async () => {
    // A broker that answers every request 150 ms late, with an empty body.
    const slow = net.createServer((socket) => {
      let pending = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => {
        pending = Buffer.concat([pending, chunk]);
        while (pending.length >= 4 && pending.length >= 4 + pending.readInt32BE(0)) {
          const correlationId = pending.readInt32BE(8);
          pending = pending.subarray(4 + pending.readInt32BE(0));
          const response = Buffer.alloc(8);
          response.writeInt32BE(4, 0);
          response.writeInt32BE(correlationId, 4);
          setTimeout(() => socket.write(response), 150);
        }
      });
    });
    await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
    const relay = await startRelay({ host: '127.0.0.1', port: (slow.address() as AddressInfo).port }, new KafkaRules([{ apiKey: 'metadata', topic: 'orders' }]));
    const client = net.connect(relay.port, '127.0.0.1');
    const responses = collectResponses(client);
    try {
      client.write(Buffer.concat([metadataRequest(1, ['orders']), metadataRequest(2, ['payments']), metadataRequest(3, ['orders']), metadataRequest(4, ['payments'])]));
      await eventually(() => expect(responses).toHaveLength(4), 5_000, 20);
      expect(responses.map((r) => r.correlationId)).toEqual([1, 2, 3, 4]);
      // 2 and 4 are the relay's denials (a metadata response carrying error 29), 1 and 3 the broker's.
      expect(responses.map((r) => r.frame.length > 8)).toEqual([false, true, false, true]);
    } finally {
      client.destroy();
      await relay.close();
      await new Promise<void>((resolve) => slow.close(() => resolve()));
    }
  });

  it('closes a connection whose frame cannot be parsed, forwarding nothing of it, and keeps serving others', async () => {
    const relay = await startRelay(broker, new KafkaRules([{}]));
    const before = broker.requests.length;
    const bad = net.connect(relay.port, '127.0.0.1');
    const closed = new Promise<void>((resolve) => bad.once('close', () => resolve()));
    bad.on('error', () => undefined);
    // A size prefix of 3 cannot hold a request header.
    bad.write(Buffer.from([0, 0, 0, 3, 0, 3, 0]));
    await closed;
    expect(relay.invalid).toEqual(['invalid frame size 3']);
    const good = net.connect(relay.port, '127.0.0.1');
    const responses = collectResponses(good);
    try {
      good.write(metadataRequest(7, ['orders']));
      await eventually(() => expect(responses.map((r) => r.correlationId)).toEqual([7]), 5_000, 20);
      expect(broker.requests.slice(before).map((r) => [r.apiKey, r.correlationId])).toEqual([[3, 7]]);
    } finally {
      good.destroy();
      await relay.close();
    }
  });
});
