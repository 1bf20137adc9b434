import { ConformanceSession, Suite } from '../src';

/**
 * One Jest test per upstream test of a profile, with the upstream name, in one conformance session
 * (base manifests once, each test's manifests on top), asserting the test passed with no failures.
 * Agent/proxy warnings and pod output are kept (only the latest lines: the mirror tests make backends
 * print a line per request) and shown only when a test fails.
 */
export function describeProfileTests(profile: string, tests: readonly string[], moreTests?: (session: ConformanceSession) => void): void {
  // A failing check takes the full 30 s consistency window; leave room for a few.
  jest.setTimeout(120_000);
  const suite = new Suite();
  const log: string[] = [];

  (suite.available ? describe : describe.skip)(`${profile} conformance (suite at ${suite.dir})`, () => {
    const session = new ConformanceSession({ tests, log: (line) => log.push(line) > 2_000 && log.splice(0, 1_000) });

    beforeAll(async () => {
      await session.start();
    }, 300_000);

    afterAll(async () => {
      await session.stop();
    });

    it.each([...tests])('%s', async (name) => {
      const result = await session.run(name);
      if (result.outcome !== 'passed') process.stderr.write(`${name}: environment log\n${log.slice(-50).join('\n')}\n`);
      expect({ name: result.name, outcome: result.outcome, failures: result.failures }).toEqual({ name, outcome: 'passed', failures: [] });
    });

    // Checks beyond the upstream tests, on the same session and fixtures.
    moreTests?.(session);
  });
}
