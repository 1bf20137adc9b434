import { ConformanceSession, SUPPORTED_GATEWAY_HTTP_TESTS, Suite } from '../src';

/**
 * Upstream GATEWAY-HTTP conformance tests that tendril passes, run as the upstream suite runs them:
 * base manifests once (the echo Deployments as local pods), each test's manifests on top and
 * deleted after, its statusChecks asserted on the agent's store (each polled until it holds, within
 * the upstream status timeout), traffic through the node proxy under the upstream consistency rules
 * (3 successes in a row within 30 s). One Jest test per upstream test, with the upstream name.
 */
const SLICE = SUPPORTED_GATEWAY_HTTP_TESTS;

// A failing check takes the full 30 s consistency window; leave room for a few.
jest.setTimeout(120_000);

const suite = new Suite();
// Agent/proxy warnings and pod output, shown only when a test fails.
const log: string[] = [];

(suite.available ? describe : describe.skip)(`GATEWAY-HTTP conformance (suite at ${suite.dir})`, () => {
  // Only the latest lines are shown; the mirror tests make backends print a line per request.
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
