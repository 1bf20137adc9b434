import { ConformanceSession, SUPPORTED_GATEWAY_GRPC_TESTS, Suite } from '../src';

/**
 * The upstream GATEWAY-GRPC tests of their own (the profile's Gateway* tests are GATEWAY-HTTP's,
 * run in gateway-http.spec.ts): GrpcEcho calls over plaintext HTTP/2 through the Gateway to the
 * grpc-infra-backend pods (`tendril echo` with GRPC_ECHO_SERVER), compared as upstream's
 * conformance/utils/grpc compares them, under the upstream consistency rules. One Jest test per
 * upstream test, with the upstream name.
 */
const SLICE = SUPPORTED_GATEWAY_GRPC_TESTS;

jest.setTimeout(120_000);

const suite = new Suite();
const log: string[] = [];

(suite.available ? describe : describe.skip)(`GATEWAY-GRPC conformance (suite at ${suite.dir})`, () => {
  const session = new ConformanceSession({ tests: SLICE, log: (line) => log.push(line) > 2_000 && log.splice(0, 1_000) });

  beforeAll(async () => {
    await session.start();
  }, 300_000);

  afterAll(async () => {
    await session.stop();
  });

  it.each(SLICE)('%s', async (name) => {
    const result = await session.run(name);
    if (result.outcome !== 'passed') process.stderr.write(`${name}: environment log\n${log.slice(-50).join('\n')}\n`);
    expect({ name: result.name, outcome: result.outcome, failures: result.failures }).toEqual({ name, outcome: 'passed', failures: [] });
  });
});
