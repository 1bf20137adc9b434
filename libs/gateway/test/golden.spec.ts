import { goldenCases, goldenView, readGolden, runCase, writeGolden } from './golden';

const update = process.env.UPDATE_GOLDEN === '1';
const cases = goldenCases();

describe('golden translations (testdata/<case>/input.yaml → output.yaml)', () => {
  it('has golden cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(15);
  });

  it.each(cases.map((c) => [c.name, c.dir]))('%s', (_name, dir) => {
    const view = goldenView(runCase(dir));
    if (update) writeGolden(dir, view);
    const golden = readGolden(dir);
    if (golden === undefined) throw new Error(`${dir}/output.yaml is missing; run with UPDATE_GOLDEN=1 to create it`);
    expect(view).toEqual(golden);
  });

  it.each(cases.map((c) => [c.name, c.dir]))('%s translates deterministically', (_name, dir) => {
    expect(JSON.stringify(runCase(dir))).toBe(JSON.stringify(runCase(dir)));
  });
});
