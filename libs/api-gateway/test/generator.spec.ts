/**
 * tools/generate-gateway-api.ts: run as a user would (npx tsx), on a small CRD written by the test and,
 * when the gateway-api checkout is present, on the real CRDs to prove the committed output is current.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { schemaBundle, gatewayApiKinds } from '../src';

const repoRoot = path.resolve(__dirname, '../../..');
const tsx = path.join(repoRoot, 'node_modules/.bin/tsx');
const generator = path.join(repoRoot, 'tools/generate-gateway-api.ts');
const sharedCrds = path.resolve(repoRoot, '../shared/gateway-api/config/crd');

function generate(crdDir: string, outDir: string): string {
  return execFileSync(tsx, [generator, crdDir, outDir], { cwd: repoRoot, encoding: 'utf8', timeout: 60_000 });
}

const widgetCrd = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
  annotations:
    gateway.networking.k8s.io/bundle-version: v9.9.9
    gateway.networking.k8s.io/channel: experimental
spec:
  group: example.com
  scope: Namespaced
  names: { kind: Widget, plural: widgets }
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          description: A widget.
          type: object
          required: [spec]
          properties:
            apiVersion: { type: string }
            kind: { type: string }
            metadata: { type: object }
            spec:
              description: The desired widget.
              type: object
              required: [parts]
              properties:
                description: { type: string, description: a field that happens to be called description }
                color: { type: string, enum: [Red, Blue], default: Red }
                parts:
                  type: array
                  maxItems: 4
                  items:
                    type: object
                    required: [name]
                    properties:
                      name: { type: string, pattern: '^[a-z]+$' }
                      size: { x-kubernetes-int-or-string: true }
                    x-kubernetes-validations:
                      - rule: self.name != 'bad'
                        message: name must not be bad
    - name: v0
      served: false
      storage: false
      schema:
        openAPIV3Schema: { type: object }
`;

describe('generate-gateway-api', () => {
  let tmp: string;
  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gen-gateway-api-'));
  });
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('turns a CRD into schemas (descriptions stripped, validations kept) and typed interfaces', () => {
    const crdDir = path.join(tmp, 'crd');
    fs.mkdirSync(crdDir);
    fs.writeFileSync(path.join(crdDir, 'widgets.yaml'), widgetCrd);
    const out = path.join(tmp, 'out');
    expect(generate(crdDir, out)).toContain('1 schemas for 1 kinds (bundle v9.9.9, channel experimental)');

    const bundle = JSON.parse(fs.readFileSync(path.join(out, 'schemas.json'), 'utf8'));
    expect(bundle.bundleVersion).toBe('v9.9.9');
    expect(bundle.resources.map((r: { version: string }) => r.version)).toEqual(['v1']); // v0 is not served
    const spec = bundle.resources[0].schema.properties.spec;
    expect(JSON.stringify(bundle)).not.toContain('A widget.');
    expect(spec.description).toBeUndefined();
    expect(spec.properties.description).toEqual({ type: 'string' });
    expect(spec.properties.color).toEqual({ type: 'string', enum: ['Red', 'Blue'], default: 'Red' });
    expect(spec.properties.parts.items['x-kubernetes-validations']).toEqual([{ rule: "self.name != 'bad'", message: 'name must not be bad' }]);

    const types = fs.readFileSync(path.join(out, 'types.ts'), 'utf8');
    expect(types).toContain('export interface Widget {\n  apiVersion: string;\n  kind: "Widget";\n  metadata: ObjectMeta;\n  spec: WidgetSpec;\n}');
    expect(types).toContain('export interface WidgetSpecPart {\n  name: string;\n  size?: number | string;\n}');
    expect(types).toContain('export interface WidgetSpec {\n  description?: string;\n  color?: "Red" | "Blue";\n  parts: WidgetSpecPart[];\n}');
  });

  it('writes the same bytes on every run', () => {
    const crdDir = path.join(tmp, 'crd');
    fs.mkdirSync(crdDir);
    fs.writeFileSync(path.join(crdDir, 'widgets.yaml'), widgetCrd);
    generate(crdDir, path.join(tmp, 'a'));
    generate(crdDir, path.join(tmp, 'b'));
    for (const file of ['schemas.json', 'types.ts']) {
      expect(fs.readFileSync(path.join(tmp, 'b', file), 'utf8')).toBe(fs.readFileSync(path.join(tmp, 'a', file), 'utf8'));
    }
  });

  it('fails with a clear message when the CRD directory is missing', () => {
    const run = spawnSync(tsx, [generator, path.join(tmp, 'nowhere'), path.join(tmp, 'out')], { cwd: repoRoot, encoding: 'utf8', timeout: 60_000 });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain(`CRD directory ${path.join(tmp, 'nowhere')} does not exist`);
    expect(fs.existsSync(path.join(tmp, 'out'))).toBe(false);
  });

  (fs.existsSync(sharedCrds) ? it : it.skip)('committed output matches a fresh run on the gateway-api CRDs', () => {
    generate(sharedCrds, tmp);
    for (const file of ['schemas.json', 'types.ts']) {
      expect(fs.readFileSync(path.join(tmp, file), 'utf8')).toBe(fs.readFileSync(path.join(__dirname, '../src/generated', file), 'utf8'));
    }
  });
});

describe('committed generated output', () => {
  it('holds every served version of the Gateway API kinds, from the experimental channel', () => {
    expect(schemaBundle.channel).toBe('experimental');
    const versions = (kind: string) => schemaBundle.resources.filter((r) => r.kind === kind).map((r) => r.version);
    expect(versions('HTTPRoute')).toEqual(['v1', 'v1beta1']);
    expect(versions('ReferenceGrant')).toEqual(['v1', 'v1beta1']);
    expect(versions('TLSRoute')).toEqual(['v1', 'v1alpha2', 'v1alpha3']);
    for (const kind of ['GatewayClass', 'Gateway', 'GRPCRoute', 'TCPRoute', 'UDPRoute', 'BackendTLSPolicy', 'ListenerSet', 'XBackendTrafficPolicy']) {
      expect(versions(kind).length).toBeGreaterThan(0);
    }
  });

  it('describes kinds at the version the types are generated for', () => {
    expect(gatewayApiKinds.HTTPRoute).toEqual({ group: 'gateway.networking.k8s.io', version: 'v1', plural: 'httproutes', namespaced: true });
    expect(gatewayApiKinds.GatewayClass.namespaced).toBe(false);
  });
});
