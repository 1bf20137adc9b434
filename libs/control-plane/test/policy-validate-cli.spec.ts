import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { tendril } from './harness';

/** `tendril policy validate` as a CI pipeline runs it: output and exit codes. */
describe('tendril policy validate', () => {
  jest.setTimeout(60_000);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tendril-policy-validate-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('exits 0 for valid policies (directories are searched), 1 with Cilium’s error for an invalid one, 2 for a missing file', async () => {
    fs.mkdirSync(path.join(dir, 'good'));
    fs.writeFileSync(
      path.join(dir, 'good', 'web.yaml'),
      'apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: { name: web, namespace: default }\nspec:\n  endpointSelector: { matchLabels: { app: web } }\n  ingress: [{ fromEndpoints: [{ matchLabels: { app: frontend } }] }]\n',
    );
    fs.writeFileSync(path.join(dir, 'good', 'notes.txt'), 'not YAML: ignored inside a directory\n');
    const good = await tendril(['policy', 'validate', path.join(dir, 'good')]);
    expect({ code: good.code, stdout: good.stdout }).toEqual({ code: 0, stdout: `valid    ${path.join(dir, 'good', 'web.yaml')}: CiliumNetworkPolicy default/web\n1 valid policy, 0 errors\n` });

    const bad = path.join(dir, 'bad.yaml');
    fs.writeFileSync(bad, 'apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: { name: bad, namespace: default }\nspec:\n  endpointSelector: {}\n  ingress: [{ fromEndpoints: [{}], fromCIDR: ["10.0.0.0/8"] }]\n');
    const invalid = await tendril(['policy', 'validate', path.join(dir, 'good'), bad]);
    expect(invalid.code).toBe(1);
    expect(invalid.stdout).toContain(`INVALID  ${bad}: document 1 (CiliumNetworkPolicy default/bad): Invalid CiliumNetworkPolicy spec: combining FromEndpoints and FromCIDR is not supported yet`);

    const missing = await tendril(['policy', 'validate', path.join(dir, 'nope.yaml')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(`cannot read ${path.join(dir, 'nope.yaml')}: no such file or directory`);
  });
});
