import { MeshConformanceSession, SUPPORTED_MESH_TESTS, Suite, meshUnavailable } from '../src';

/*
 * The mesh conformance tests tendril supports through the eBPF datapath and the node proxy's mesh
 * listener: the MESH-HTTP and MESH-GRPC profiles (core and extended) and the mesh tests in no
 * profile (MeshConsumerRoute, MeshFrontend, …), one Jest test per upstream test, with the upstream
 * name, in one session.
 */
const PROFILES = ['MESH-HTTP', 'MESH-GRPC'];
const suite = new Suite();
const unavailable = meshUnavailable() ?? (suite.available ? undefined : `the upstream suite is not at ${suite.dir}`);
if (unavailable) console.warn(`mesh conformance skipped: ${unavailable}`);
const inventory = suite.available ? suite.inventory() : [];
const tests = [...SUPPORTED_MESH_TESTS];

it('every MESH-HTTP and MESH-GRPC test (core and extended) is supported, and every supported mesh test is a Mesh test of the suite', () => {
  if (!suite.available) return;
  const inProfiles = inventory.filter((t) => t.profiles.some((p) => PROFILES.includes(p))).map((t) => t.name);
  expect(inProfiles.filter((name) => !tests.includes(name))).toEqual([]);
  const meshTests = new Set(inventory.filter((t) => t.features.includes('Mesh')).map((t) => t.name));
  expect(tests.filter((name) => !meshTests.has(name))).toEqual([]);
});

jest.setTimeout(120_000);

(unavailable ? describe.skip : describe)('mesh conformance (needs root)', () => {
  const log: string[] = [];
  const session = new MeshConformanceSession({ tests, log: (line) => log.push(line) > 2_000 && log.splice(0, 1_000) });

  beforeAll(async () => {
    await session.start();
  }, 300_000);

  afterAll(async () => {
    await session.stop();
  }, 120_000);

  it.each(tests)('%s', async (name) => {
    const result = await session.run(name);
    if (result.outcome !== 'passed') process.stderr.write(`${name}: ${result.outcome}: ${result.failures.join(' | ')}\n${log.slice(-20).join('\n')}\n`);
    expect({ name: result.name, outcome: result.outcome, failures: result.failures }).toEqual({ name, outcome: 'passed', failures: [] });
  });
});
