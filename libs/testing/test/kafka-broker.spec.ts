import { Kafka, logLevel } from 'kafkajs';
import { startKafkaTestBroker, type KafkaTestBroker } from '../src';

describe('Kafka test broker with kafkajs', () => {
  let broker: KafkaTestBroker;
  beforeEach(async () => {
    broker = await startKafkaTestBroker({ topics: { orders: 2 } });
  });
  afterEach(async () => {
    await broker.close();
  });

  const client = (clientId: string): Kafka => new Kafka({ clientId, brokers: [broker.address], logLevel: logLevel.NOTHING, retry: { retries: 1 } });

  it('acknowledges produced records with consecutive offsets per partition', async () => {
    const producer = client('orders-svc').producer();
    await producer.connect();
    try {
      const first = await producer.send({ topic: 'orders', messages: [{ value: 'a', partition: 0 }, { value: 'b', partition: 0 }] });
      const second = await producer.send({ topic: 'orders', messages: [{ value: 'c', partition: 0 }] });
      expect(first).toEqual([expect.objectContaining({ topicName: 'orders', partition: 0, errorCode: 0, baseOffset: '0' })]);
      expect(second).toEqual([expect.objectContaining({ topicName: 'orders', partition: 0, errorCode: 0, baseOffset: '2' })]);
    } finally {
      await producer.disconnect();
    }
    expect(broker.requests.filter((r) => r.apiKey === 0).map((r) => ({ version: r.apiVersion, clientId: r.clientId, topics: r.topics }))).toEqual([
      { version: 7, clientId: 'orders-svc', topics: ['orders'] },
      { version: 7, clientId: 'orders-svc', topics: ['orders'] },
    ]);
  });

  it('creates topics, leaving one that exists as it is', async () => {
    const admin = client('admin').admin();
    await admin.connect();
    try {
      await expect(admin.createTopics({ topics: [{ topic: 'payments', numPartitions: 3 }] })).resolves.toBe(true);
      // kafkajs reads TOPIC_ALREADY_EXISTS as "nothing created".
      await expect(admin.createTopics({ topics: [{ topic: 'orders' }] })).resolves.toBe(false);
      expect((await admin.fetchTopicMetadata({ topics: ['payments'] })).topics[0]!.partitions).toHaveLength(3);
    } finally {
      await admin.disconnect();
    }
  });

  it('delivers produced messages to a consumer group member, which commits its offsets', async () => {
    const kafka = client('billing');
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: 'orders', messages: [{ key: 'k1', value: 'first', partition: 0 }, { key: 'k2', value: 'second', partition: 1 }] });
    await producer.disconnect();

    const consumer = kafka.consumer({ groupId: 'billing', maxWaitTimeInMs: 100 });
    await consumer.connect();
    const got: string[] = [];
    try {
      await consumer.subscribe({ topic: 'orders', fromBeginning: true });
      await new Promise<void>((resolve, reject) => {
        consumer
          .run({
            eachMessage: async ({ partition, message }) => {
              got.push(`${partition}:${String(message.key)}=${String(message.value)}`);
              if (got.length === 2) resolve();
            },
          })
          .catch(reject);
      });
      await consumer.commitOffsets([{ topic: 'orders', partition: 0, offset: '1' }]);
    } finally {
      await consumer.disconnect();
    }
    expect(got.sort()).toEqual(['0:k1=first', '1:k2=second']);
    const keys = new Set(broker.requests.map((r) => r.apiKey));
    for (const key of [1, 8, 9, 10, 11, 14]) expect(keys).toContain(key);
    expect(broker.requests.filter((r) => r.apiKey === 1).every((r) => r.clientId === 'billing' && (r.topics as string[]).includes('orders'))).toBe(true);
  });
});
