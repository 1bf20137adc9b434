import { ConformanceSession, SUPPORTED_GATEWAY_TCP_TESTS, Suite } from '../src';

/**
 * The upstream GATEWAY-TCP tests of their own that tendril passes (the profile's Gateway* tests are
 * GATEWAY-HTTP's, run in gateway-http.spec.ts): TCPRoute status written out from the Go sources,
 * the plain TCP echo conversation through each listener, the older of two routes serving, weighted
 * distribution in upstream's bands. One Jest test per upstream test, with the upstream name.
 */
const SLICE = SUPPORTED_GATEWAY_TCP_TESTS;

jest.setTimeout(120_000);

const suite = new Suite();
const log: string[] = [];

(suite.available ? describe : describe.skip)(`GATEWAY-TCP conformance (suite at ${suite.dir})`, () => {
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
