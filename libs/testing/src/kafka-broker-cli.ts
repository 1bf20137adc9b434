/**
 * The Kafka test broker as a process of its own, for pods of the root end-to-end suites:
 *   node --require tsx/cjs libs/testing/src/kafka-broker-cli.ts PORT [TOPIC:PARTITIONS…]
 * It listens on every address and advertises the pod's own address (its first non-loopback IPv4
 * address), so clients that bootstrap through a Service or a redirect come back to the pod.
 */
import * as os from 'node:os';
import { startKafkaTestBroker } from './kafka-broker';

function podAddress(): string {
  const address = Object.values(os.networkInterfaces())
    .flatMap((list) => list ?? [])
    .find((i) => i.family === 'IPv4' && !i.internal)?.address;
  if (!address) throw new Error('kafka test broker: no non-loopback IPv4 address to advertise');
  return address;
}

async function main(): Promise<void> {
  const [portText, ...topicArgs] = process.argv.slice(2);
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`usage: kafka-broker-cli PORT [TOPIC:PARTITIONS…] (got port ${JSON.stringify(portText)})`);
  const topics = Object.fromEntries(
    topicArgs.map((arg) => {
      const [name, count] = arg.split(':');
      return [name, Number(count ?? 1)];
    }),
  );
  const broker = await startKafkaTestBroker({ host: '0.0.0.0', port, topics });
  broker.advertise(podAddress(), port);
  process.stdout.write(`kafka test broker listening on ${broker.address}, advertising ${podAddress()}:${port}\n`);
  const stop = (): void => void broker.close().finally(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err: Error) => {
  process.stderr.write(`${err.message}\n`);
  process.exit(1);
});
